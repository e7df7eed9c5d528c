"""`python -m model_server` = `campfire-server`."""

from model_server.cli import main

raise SystemExit(main())
