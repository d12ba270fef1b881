"""The commands: the front ends a user types, each one module with its `main` (pyproject's
[project.scripts]). They read arguments, call the library and turn its errors into one line
(ganrun/errors.py, `entry_point`); the library never imports them.

    ganrun            run.py        train one run, or a sweep (Hydra composes the config)
    ganrun-sample     sample.py     samples from a run, a checkpoint or an export
    ganrun-eval       evaluate.py   the metrics of a run, or of anyone's samples (judge.py)
    ganrun-export     export.py     a run's generator as one safetensors file
    ganrun-report     report.py     a sweep's comparison table (the table itself: ganrun/report.py)
    ganrun-translate  translate.py  a translation run applied to images
"""
