from gme_tui.cli import main

raise SystemExit(main())
