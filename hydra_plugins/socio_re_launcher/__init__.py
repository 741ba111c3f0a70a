"""socio_re's Hydra launchers: hydra-submitit-launcher's executors with resumable sweeps.

Hydra only instantiates launchers defined under the ``hydra_plugins`` package, so the classes
live here; the logic is in ``socio_re.sweeps`` (``socio_re.sweeps.launcher`` wires it).
Selected by conf/hydra/launcher/*.yaml (``_target_``).
"""
