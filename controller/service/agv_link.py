"""What the site controller needs of the VDA 5050 master control (controller/vda5050): one
`AgvMaster` per vehicle, the state it parsed in the controller's own terms, and a transport
task's work at a stop as a VDA 5050 action."""

from __future__ import annotations

from controller.domain.layout import AgvSpec
from controller.domain.messages import (
    ActionState,
    AgvError,
    AgvPosition,
    AgvState,
)
from controller.domain.tasks import TaskKind, TaskStatus, TransportTask
from controller.traffic.trips import StopKind
from controller.vda5050.actions import ActionParameter, ActionSpec, BlockingType
from controller.vda5050.headers import AgvAddress, ProtocolVersion
from controller.vda5050.ids import counter_ids
from controller.vda5050.master import AgvMaster
from controller.vda5050.vehicle import VehicleView


def master_for(agv: AgvSpec, id_prefix: str) -> AgvMaster:
    """The master control of one configured AGV; instant action ids from `id_prefix`, which
    differs per run, so no id repeats across restarts."""
    return AgvMaster(
        AgvAddress(agv.manufacturer, agv.serial_number, version=ProtocolVersion(agv.protocol)),
        new_id=counter_ids(f"{id_prefix}-{agv.serial_number}-a"),
    )


def agv_state(view: VehicleView) -> AgvState | None:
    """The last state the master control took in, as the site controller decides on it."""
    state = view.state
    if state is None:
        return None
    position = view.position  # None until the vehicle has initialised it (CHECKLIST 56)
    loads = view.loads
    return AgvState(
        order_id=state.order_id,
        last_node_id=state.last_node_id,
        driving=state.driving,
        open_nodes=len(state.node_states),
        open_edges=len(state.edge_states),
        action_states=tuple(
            ActionState(a.action_id, a.action_type, a.status) for a in state.action_states
        ),
        errors=tuple(
            AgvError(e.error_type, e.level, e.description, e.references) for e in state.errors
        ),
        operating_mode=state.operating_mode,
        battery_charge=state.battery_charge,
        order_update_id=state.order_update_id,
        charging=state.charging,
        paused=state.paused,
        e_stop=state.e_stop,
        position=(
            None
            if position is None
            else AgvPosition(position.x, position.y, position.theta, position.map_id)
        ),
        load_ids=None if loads is None else tuple(load.load_id or "" for load in loads),
    )


def stop_action(task: TransportTask, kind: StopKind) -> ActionSpec | None:
    """The task's work at a stop of that kind: the pick (unless the AGV already carries
    the tote) or the drop. Actions are HARD: the vehicle stands still while handling."""
    source_kind, destination_kind = (
        ("station", "rack") if task.kind is TaskKind.RETURN else ("rack", "station")
    )
    if kind is StopKind.PICK and task.carried_by is None:
        return _handling("pick", task.pick_action_id, task.tote_id, source_kind)
    if kind is StopKind.DROP:
        return _handling("drop", task.drop_action_id, task.tote_id, destination_kind)
    return None


def _handling(action_type: str, action_id: str, tote_id: str, station_type: str) -> ActionSpec:
    return ActionSpec(
        action_type,
        BlockingType.HARD,
        (ActionParameter("loadId", tote_id), ActionParameter("stationType", station_type)),
        action_id=action_id,
    )


def load_mismatch(task: TransportTask, state: AgvState, dropped: bool) -> str | None:
    """How the AGV's `loads` contradict a task whose tote it lifted: the tote must be on
    board until the drop finished, and gone after. None when they agree, or when they cannot
    tell: no `loads` at all, or a load without an id (CHECKLIST 55: missing is unknown)."""
    if task.status is not TaskStatus.LOADED or state.load_ids is None or "" in state.load_ids:
        return None
    aboard = task.tote_id in state.load_ids
    if aboard and dropped:
        return f"{task.agv} set {task.tote_id} down but still reports it on board"
    if not aboard and not dropped:
        loads = ", ".join(state.load_ids) or "nothing"
        return f"{task.agv} lifted for {task.tote_id} but reports {loads} on board"
    return None
