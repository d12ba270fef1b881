"""`python -m ganrun ...` is `ganrun ...`; torchrun launches it so: torchrun --nproc_per_node=2 -m ganrun ..."""

from ganrun.commands.run import main

if __name__ == "__main__":
    main()
