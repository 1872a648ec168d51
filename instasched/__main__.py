from instasched.cli import main

raise SystemExit(main())
