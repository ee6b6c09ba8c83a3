import sys

from benchmarks.fleet_telemetry.cli import main

sys.exit(main())
