"""Fleet traffic control: the floor compiled to arrays, the motion planner's proposals and
the reservation kernel that makes them safe.

`floor.CompiledFloor` (nodes as ints, distance tables) and `kernel.ReservationKernel` (each
node and edge granted to one AGV; freed only once its state confirms it has passed). Pure:
numpy and scipy, no I/O, no clock.
"""
