import sys

from benchmarks.fleet_telemetry.cli import main

if __name__ == "__main__":
    sys.exit(main())
