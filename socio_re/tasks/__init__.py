"""The tasks, one package each. A package's ``__init__`` defines ``TASK`` (its
:class:`~socio_re.config.task_contract.TaskSpec`); the registry
(:mod:`socio_re.config.tasks`) finds it. The contract is documented in
:mod:`socio_re.config.task_contract` and ``docs/adding-a-task.md``."""
