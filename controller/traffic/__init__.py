"""Fleet traffic control: a collision-free motion planner proposes, the reservation kernel
makes it safe.

`floor.CompiledFloor` (nodes as ints, distance tables; `repair` mends them when an edge
closes or opens), `pibt.step` (one joint step), `lacam.search` (the completeness
fallback), `planner.MotionPlanner` (what the control loop calls each tick),
`kernel.ReservationKernel` (each node and edge granted to one AGV; freed only once its
state confirms it has passed), `control.FleetControl` (dispatch, plan, grant, check: the
one loop of the simulation and the edge; its states extend the bases between ticks), and
`plan_worker` (its planner on a snapshot in a worker process). Pure: numpy and scipy, no
I/O, no clock but the planner's time budget.
"""
