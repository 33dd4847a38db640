from holdspace.cli import main

raise SystemExit(main())
