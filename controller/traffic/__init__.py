"""Fleet traffic control: the motion planner's proposals and the reservation kernel that
makes them safe."""
