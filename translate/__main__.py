from translate.cli import main

raise SystemExit(main())
