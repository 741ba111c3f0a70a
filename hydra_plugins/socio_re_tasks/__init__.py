"""Config groups of tasks kept outside ``socio_re``: each found task package with a ``conf/``
folder (``conf/task/<name>.yaml``, ``conf/data/...``) adds it to Hydra's search path, so
``python train.py task=<name>`` composes it like a built-in task. Hydra discovers search-path
plugins under the ``hydra_plugins`` package, hence this module's place."""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class TaskConfigSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        try:
            from socio_re.config.tasks import task_conf_dirs

            found = task_conf_dirs()
        except Exception:
            return  # later; a search path must never stop Hydra from composing at all
        for name, directory in found.items():
            search_path.append(provider=f"socio_re-task-{name}", path=f"file://{directory}")
