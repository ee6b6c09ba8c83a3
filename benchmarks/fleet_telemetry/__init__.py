"""Telemetry ingest of 500 simulated AGVs at 2 Hz through Mosquitto against the real fleet
control, with the latency from each AGV `state` to the decision it enables (issue 5: p95
≤ 100 ms).

    python -m benchmarks.fleet_telemetry --agvs 500 --hz 2 --seconds 30 --repeat 3

**Ingest-to-decision latency**, per state message: from the moment the simulated AGV hands
the encoded `state` to its MQTT client (a CLOCK_MONOTONIC reading taken just before
`publish`) until the controller side has taken it in and made the decision it enables:

1. received it through the edge's own MQTT connection (`edge.mqtt.connection`, aiomqtt,
   subscribed to `uagv/v2/{manufacturer}/+/state` at QoS 0, as `edge.mqtt.topics` routes it),
2. decoded the JSON and had the AGV's VDA 5050 master control parse and validate it
   (`AgvMaster.on_state`),
3. `FleetControl.observe`: the AGV's node confirmed with the reservation kernel (freeing
   what is behind it) and its base extended along its latest plan up to `--lookahead`
   steps (`controller/traffic/control.py`), and the stop bookkeeping (a pick or drop done).

What runs: the real `FleetControl` for the whole fleet, with the real `MinCostDispatcher`,
`MotionPlanner` and `ReservationKernel`, on the generated warehouse floor the full-tick
figures use (`--cells 42000`, simulators/fleet/grid.py), with a saturated task backlog
(two open tasks per AGV). Every `--tick-period` s `edge.planning.PlanningLoop` runs the
tick: `FleetControl.plan_request` (task intake, dispatch and the planner's snapshot) on
the event loop, the planner in a one-worker process pool (`plan_worker.plan_paths`, at
`--worker-nice`), `FleetControl.install` (kernel requests, check) on the loop. The tick
competes with the states for the loop: dispatch and install are in the latency figures.

The AGVs (publisher.py) drive: each one, one node per second, along the base the ingest
last granted it, and stops at its end until more is granted. The ingest sends each AGV's
base back whenever a state or a tick extends it (bases.py). Ground truth is kept by the
publisher: two AGVs on one node is a conflict; the kernel counts double allocations. Both
must be 0.

Simplified, said plainly:
- The bases go back over a pipe, not as VDA 5050 order updates through the broker: their
  encoding and publishing are not in the ingest's CPU, and the states carry no order.
- Stops are worked at once: an AGV reporting the node of its pick or drop has done it
  (no action time, no actionStates); batteries stay at 80 % (nobody is sent to charge).
- The AGVs move node to node on their report ticks (no positions between nodes).

The publisher and the ingest are separate processes, as the AGVs and the edge are separate
machines. VDA 5050 `state` allows no extra field for a precise send time, so each side
keeps its own table keyed by (AGV, headerId), both read from CLOCK_MONOTONIC, one clock
for all the processes of a Linux machine; the parent joins them after the run.

Phases, each with fresh processes, interleaved in every repetition:
- `receive`: the baseline. The ingest only receives and reads the headerId: the broker's
  and the MQTT client's share of the latency (the AGVs stand still).
- `process`: the design above.
- `inline`: the same, with the planner on the event loop: what states waiting for it cost.

Also printed: messages offered, received and lost; how late the publisher sent against its
schedule; CPU per message on the ingest's event loop; the tick's parts (intake, dispatch,
planner, install) and overruns; the traffic (nodes driven, waits for a grant, trips,
totes delivered, conflicts, double allocations, kernel violations); and what else kept
the machine busy (CPU of every other process, from /proc, and the load average).

Modules: `cli` (command line, orchestration of the runs), `run` (one phase's processes),
`site` (floor and fleet), `wire` (the state messages), `publisher` (the AGVs), `bases`
(the bases back to them), `ingest` (the edge's side), `controller_side` (FleetControl fed
with tasks, without I/O), `machine` (machine load), `report` (figures and verdict).
"""
