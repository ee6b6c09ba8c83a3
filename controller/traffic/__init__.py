"""Fleet traffic control: the floor compiled to arrays and a collision-free motion planner.

`floor.CompiledFloor` (nodes as ints, distance tables; `repair` mends them when an edge
closes or opens), `pibt.step` (one joint step), `lacam.search` (the completeness
fallback), `planner.MotionPlanner` (what the control loop calls each tick). Pure: numpy
and scipy, no I/O, no clock but the planner's time budget.
"""
