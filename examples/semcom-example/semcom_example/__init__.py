"""An example semcom plugin: one component of every kind semcom lets you bring.

* :class:`~semcom_example.model.TinyJSCC`: a JSCC model (``model=tinyjscc``);
* :class:`~semcom_example.codec.DownsampledPNG`: a source codec (``pipeline.codec=halfpng``);
* :class:`~semcom_example.channel.Nakagami`: a channel (``channel=nakagami``);
* :class:`~semcom_example.metric.MAE`: a metric (``metrics=[psnr,mae]``).

Each registers through an entry point in this package's ``pyproject.toml``; semcom itself knows
nothing of it.
"""
