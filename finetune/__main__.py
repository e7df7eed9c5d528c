"""`python -m finetune` is `campfire-train`."""

from finetune.cli import main

raise SystemExit(main())
