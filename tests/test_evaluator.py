"""The evaluator on the tiny instance (see conftest.py): scores of hand-made schedules,
computed here from the model's formulas, and one test per constraint code."""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np
import pytest

from dcibench.evaluator import Evaluation, Violation, evaluate
from dcibench.types import Hop, Schedule

# -- hand formulas for the tiny instance ----------------------------------------------------

NOISE_W = 10 ** (-113 / 10) / 1000
P_W = 0.5
OMEGA_E, OMEGA_D = 0.8, 0.2
PENALTY = 20.0
DELTA = 0.5
K0 = {0: 1e-27, 1: 1e-26, 2: 2e-26}
CAP = {0: 10e9, 1: 1e9, 2: 0.5e9}
CYCLES = [1e8, 2e8, 1e8]          # C[1..3]
BITS = [4e6, 1e6, 2e5, 1e3]       # O[0..3]


def rate(distance_m: float, subcarrier_hz: float = 1e6) -> float:
    return subcarrier_hz * math.log2(1 + distance_m ** -4 * P_W / NOISE_W)


class Hand(NamedTuple):
    energy: float
    delay: float
    cost: float
    slots: int


def hand(node: int, first: int, last: int, level: int | None, distance: float | None,
         subcarrier_hz: float = 1e6) -> Hand:
    """A hop's energy, delay, cost and length from the model's formulas."""
    cycles = sum(CYCLES[first - 1:last])
    r = 0.0 if level is None else level / 10 * CAP[node]
    c = cycles / r if cycles else 0.0
    tau = 0.0 if distance is None else BITS[last] / rate(distance, subcarrier_hz)
    energy = K0[node] * cycles * r ** 2 + P_W * tau
    delay = c + tau
    slots = max(1, math.ceil(delay / DELTA - 1e-9))
    return Hand(energy, delay, OMEGA_E * energy + OMEGA_D * delay, slots)


def hop(task: int, slot: int, node: int, first: int, last: int, level: int | None,
        next_node: int, subcarrier: int | None = None) -> Hop:
    return Hop(task=task, slot=slot, node=node, first_layer=first, last_layer=last,
               level=level, next_node=next_node, subcarrier=subcarrier)


def run(instance, *hops: Hop) -> Evaluation:
    return evaluate(instance, Schedule(hops=tuple(hops), instance_name=instance.name))


# The valid schedule of every task (hand-checked against capacity and subcarriers):
#   task 0 (ED1, arrives 0, deadline 4)
A = hop(0, 0, 1, 1, 1, 5, 0, 0)       # layer 1 on ED1 at 0.5 GHz, send O[1] to the server
B = hop(0, 1, 0, 2, 3, 2, 0)          # layers 2-3 on the server at 2 GHz; done at slot 2
#   task 1 (ED2, arrives 1, deadline 5): ED2 has no server link
C = hop(1, 1, 2, 1, 0, None, 1, 1)    # send the input to ED1 (pure transfer) on sub 1
D = hop(1, 2, 1, 1, 3, 8, 1)          # everything on ED1 at 0.8 GHz = all it has: 0.5 s
#   task 2 (ED1, arrives 2, deadline 6): ED1 is full in slot 2, so it starts in slot 3
E = hop(2, 3, 1, 1, 2, 4, 0, 0)       # layers 1-2 at 0.4 GHz (0.75 s) + O[2]: 2 slots
F = hop(2, 5, 0, 3, 3, 1, 0)          # layer 3 on the server at 1 GHz; done at slot 6

HAND = {
    "A": hand(1, 1, 1, 5, 100.0), "B": hand(0, 2, 3, 2, None),
    "C": hand(2, 1, 0, None, 300.0), "D": hand(1, 1, 3, 8, None),
    "E": hand(1, 1, 2, 4, 100.0), "F": hand(0, 3, 3, 1, None),
}


def test_hand_numbers_are_what_the_comments_say() -> None:
    assert HAND["A"].energy == pytest.approx(0.25 + P_W * 1e6 / rate(100.0))
    assert HAND["B"].energy == pytest.approx(1.2)     # 1e-27 * 3e8 * (2e9)^2
    assert HAND["D"].energy == pytest.approx(2.56)    # 1e-26 * 4e8 * (0.8e9)^2
    assert HAND["D"].delay == pytest.approx(0.5)
    assert HAND["F"].energy == pytest.approx(0.1)     # 1e-27 * 1e8 * (1e9)^2
    assert [HAND[k].slots for k in "ABCDEF"] == [1, 1, 1, 1, 2, 1]


# -- scores of valid schedules ------------------------------------------------------------


def test_full_valid_schedule(tiny_instance) -> None:
    ev = run(tiny_instance, A, B, C, D, E, F)
    assert ev.feasible, [str(v) for v in ev.violations]
    assert ev.violations == ()
    cost = sum(h.cost for h in HAND.values())
    assert ev.system_cost == pytest.approx(cost, rel=1e-12)
    assert ev.objective == pytest.approx(cost, rel=1e-12)  # no failed task
    assert ev.energy_j == pytest.approx(sum(h.energy for h in HAND.values()), rel=1e-12)
    assert ev.delay_s == pytest.approx(sum(h.delay for h in HAND.values()), rel=1e-12)
    assert ev.completion_rate == 1.0
    assert ev.failed_tasks == ()
    assert ev.collaborations == 3  # A, C and E change node
    # completion slots 2, 3 and 6 for arrivals 0, 1 and 2
    assert ev.task_latency_s.tolist() == pytest.approx([1.0, 1.0, 2.0])
    assert ev.mean_latency_s == pytest.approx(4.0 / 3.0)
    assert ev.task_cost.tolist() == pytest.approx(
        [HAND["A"].cost + HAND["B"].cost, HAND["C"].cost + HAND["D"].cost,
         HAND["E"].cost + HAND["F"].cost], rel=1e-12)
    assert ev.task_energy_j.tolist() == pytest.approx(
        [HAND["A"].energy + HAND["B"].energy, HAND["C"].energy + HAND["D"].energy,
         HAND["E"].energy + HAND["F"].energy], rel=1e-12)
    assert ev.task_delay_s.tolist() == pytest.approx(
        [HAND["A"].delay + HAND["B"].delay, HAND["C"].delay + HAND["D"].delay,
         HAND["E"].delay + HAND["F"].delay], rel=1e-12)
    assert ev.task_completed.tolist() == [True, True, True]
    assert ev.task_collaborations.tolist() == [1, 1, 1]
    summary = ev.summary()
    assert summary["feasible"] is True and summary["failed"] == 0
    assert summary["collaborations"] == 3 and summary["violations"] == 0


def test_held_rates(tiny_instance) -> None:
    ev = run(tiny_instance, A, B, C, D, E, F)
    expected = np.zeros((6, 3))
    expected[0, 1] = 0.5e9   # A
    expected[1, 0] = 2e9     # B (C holds no compute)
    expected[2, 1] = 0.8e9   # D, exactly ED1's available capacity
    expected[3, 1] = expected[4, 1] = 0.4e9  # E, both of its slots
    expected[5, 0] = 1e9     # F
    assert ev.held_hz.shape == (6, 3)
    assert ev.held_hz == pytest.approx(expected)


def test_hop_order_between_tasks_does_not_matter(tiny_instance) -> None:
    ev1 = run(tiny_instance, A, B, C, D, E, F)
    ev2 = run(tiny_instance, E, C, A, F, D, B)
    assert ev2.feasible
    assert ev2.objective == pytest.approx(ev1.objective, rel=1e-12)
    assert ev2.task_cost.tolist() == pytest.approx(ev1.task_cost.tolist(), rel=1e-12)


def test_start_after_arrival_is_waiting(tiny_instance) -> None:
    # task 0 waits two slots, then runs everything on ED1 at 0.8 GHz (ends at 3 <= 4)
    ev = run(tiny_instance, hop(0, 2, 1, 1, 3, 8, 1))
    assert ev.feasible
    assert ev.task_latency_s[0] == pytest.approx(1.5)  # completes in slot 3, arrived in 0
    assert ev.task_cost[0] == pytest.approx(hand(1, 1, 3, 8, None).cost, rel=1e-12)
    assert ev.task_delay_s[0] == pytest.approx(0.5)  # waiting is not in the delay term


def test_gap_between_hops_is_waiting(tiny_instance) -> None:
    later_b = hop(0, 3, 0, 2, 3, 2, 0)  # A ends at 1; B waits until 3 and ends at 4
    ev = run(tiny_instance, A, later_b)
    assert ev.feasible
    assert ev.task_latency_s[0] == pytest.approx(2.0)
    assert ev.task_cost[0] == pytest.approx(HAND["A"].cost + HAND["B"].cost, rel=1e-12)


def test_several_hops_on_the_same_node(tiny_instance) -> None:
    ev = run(tiny_instance, hop(0, 0, 1, 1, 1, 2, 1), hop(0, 1, 1, 2, 3, 6, 1))
    assert ev.feasible
    assert ev.collaborations == 0
    expected = hand(1, 1, 1, 2, None).cost + hand(1, 2, 3, 6, None).cost
    assert ev.objective == pytest.approx(expected + 2 * PENALTY, rel=1e-12)
    assert ev.task_latency_s[0] == pytest.approx(1.0)  # 0.5 s, then 0.5 s


def test_link_and_rate_are_those_of_the_start_slot(tiny_variant) -> None:
    positions = np.tile(np.array([(0.0, 0.0), (100.0, 0.0), (400.0, 0.0)]), (6, 1, 1))
    positions[1, 2] = (0.0, 250.0)  # ED2 is in the server's coverage in slot 1 only
    inst = tiny_variant(positions_m=positions)
    # task 1 computes layer 1 on ED2 from slot 1 (0.5 s) and sends O[1] over the slot-1
    # link; the hop lasts two slots, and the link is gone in slot 2: still valid
    first = hop(1, 1, 2, 1, 1, 4, 0, 1)
    second = hop(1, 3, 0, 2, 3, 1, 0)
    ev = run(inst, first, second)
    assert ev.feasible, [str(v) for v in ev.violations]
    h1 = hand(2, 1, 1, 4, 250.0)
    assert h1.slots == 2
    assert ev.task_cost[1] == pytest.approx(h1.cost + hand(0, 2, 3, 1, None).cost, rel=1e-12)
    # the same hop one slot later has no link
    ev = run(inst, hop(1, 2, 2, 1, 1, 4, 0, 1))
    assert [v.constraint for v in ev.violations] == ["link"]


# -- failed tasks -------------------------------------------------------------------------


def test_empty_schedule_fails_every_task(tiny_instance) -> None:
    ev = run(tiny_instance)
    assert ev.feasible  # failing is allowed, it costs the penalty
    assert ev.system_cost == 0.0
    assert ev.objective == pytest.approx(3 * PENALTY)
    assert ev.completion_rate == 0.0
    assert ev.failed_tasks == (0, 1, 2)
    assert ev.collaborations == 0
    assert math.isnan(ev.mean_latency_s)
    assert ev.summary()["failed"] == 3


def test_task_without_hops_costs_the_penalty(tiny_instance) -> None:
    ev = run(tiny_instance, A, B, E, F)  # task 1 has no hop
    assert ev.feasible
    cost = HAND["A"].cost + HAND["B"].cost + HAND["E"].cost + HAND["F"].cost
    assert ev.system_cost == pytest.approx(cost, rel=1e-12)
    assert ev.objective == pytest.approx(cost + PENALTY, rel=1e-12)
    assert ev.failed_tasks == (1,)
    assert ev.completion_rate == pytest.approx(2 / 3)
    assert ev.task_cost[1] == 0.0
    assert ev.task_completed.tolist() == [True, False, True]
    assert math.isnan(ev.task_latency_s[1])
    assert ev.mean_latency_s == pytest.approx(1.5)  # (1.0 + 2.0) / 2


def test_task_stopping_short_fails_but_its_hops_count(tiny_instance) -> None:
    # task 1 only moves its input to ED1; task 2 stops after layer 2 on the server
    ev = run(tiny_instance, A, B, C, E)
    assert ev.feasible
    cost = HAND["A"].cost + HAND["B"].cost + HAND["C"].cost + HAND["E"].cost
    assert ev.system_cost == pytest.approx(cost, rel=1e-12)
    assert ev.objective == pytest.approx(cost + 2 * PENALTY, rel=1e-12)
    assert ev.energy_j == pytest.approx(
        HAND["A"].energy + HAND["B"].energy + HAND["C"].energy + HAND["E"].energy, rel=1e-12)
    assert ev.failed_tasks == (1, 2)
    assert ev.completion_rate == pytest.approx(1 / 3)
    assert ev.task_cost[1] == pytest.approx(HAND["C"].cost, rel=1e-12)
    # hand-offs count the failed tasks' hops: A, C and E
    assert ev.collaborations == 3
    assert ev.task_collaborations.tolist() == [1, 1, 1]
    assert ev.mean_latency_s == pytest.approx(1.0)  # only task 0 completed


# -- violations ---------------------------------------------------------------------------


def only(ev: Evaluation, constraint: str) -> Violation:
    """The single violation of ``ev``, checked to be of the given kind."""
    assert not ev.feasible
    assert [v.constraint for v in ev.violations] == [constraint], \
        [str(v) for v in ev.violations]
    return ev.violations[0]


RANGE_CASES = {
    # name: (hop, message fragment)
    "task_id_high": (hop(3, 0, 1, 1, 1, 5, 1), "task id"),
    "task_id_negative": (hop(-1, 0, 1, 1, 1, 5, 1), "task id"),
    "slot_high": (hop(0, 6, 1, 1, 1, 5, 1), "slot 6"),
    "slot_negative": (hop(0, -1, 1, 1, 1, 5, 1), "slot -1"),
    "node_high": (hop(0, 0, 3, 1, 1, 5, 1, 0), "node 3"),
    "node_negative": (hop(0, 0, -1, 1, 1, 5, 1, 0), "node -1"),
    "next_node_high": (hop(0, 0, 1, 1, 1, 5, 3, 0), "next node 3"),
    "next_node_negative": (hop(0, 0, 1, 1, 1, 5, -1, 0), "next node -1"),
    "first_layer_zero": (hop(0, 0, 1, 0, 1, 5, 1), "first layer 0"),
    "first_layer_high": (hop(0, 0, 1, 4, 3, None, 0, 0), "first layer 4"),
    "last_layer_high": (hop(0, 0, 1, 1, 4, 5, 1), "last layer 4"),
    "last_layer_before_block": (hop(0, 0, 1, 2, 0, None, 0, 0), "last layer 0"),
    "level_missing": (hop(0, 0, 1, 1, 1, None, 1), "needs a level"),
    "level_zero": (hop(0, 0, 1, 1, 1, 0, 1), "needs a level"),
    "level_high": (hop(0, 0, 1, 1, 1, 11, 1), "needs a level"),
    "level_on_pure_transfer": (hop(0, 0, 1, 1, 0, 5, 0, 0), "level null"),
    "subcarrier_missing": (hop(0, 0, 1, 1, 1, 5, 0, None), "needs a subcarrier"),
    "subcarrier_high": (hop(0, 0, 1, 1, 1, 5, 0, 2), "needs a subcarrier"),
    "subcarrier_negative": (hop(0, 0, 1, 1, 1, 5, 0, -1), "needs a subcarrier"),
    "subcarrier_without_transfer": (hop(0, 0, 1, 1, 1, 5, 1, 0), "subcarrier null"),
}


@pytest.mark.parametrize("bad, fragment", list(RANGE_CASES.values()), ids=list(RANGE_CASES))
def test_range(tiny_instance, bad: Hop, fragment: str) -> None:
    ev = run(tiny_instance, A, B, C, D, bad)
    v = only(ev, "range")
    assert (v.task, v.slot, v.node) == (bad.task, bad.slot, bad.node)
    assert fragment in v.message
    assert v.subcarrier is None
    assert ev.objective is None and ev.system_cost is None  # nothing can be scored
    assert str(v).startswith("[range]")


def test_range_reports_every_bad_hop(tiny_instance) -> None:
    ev = run(tiny_instance, hop(0, 9, 1, 1, 1, 5, 1), hop(2, 2, 1, 1, 1, 12, 1))
    assert [(v.constraint, v.task, v.slot) for v in ev.violations] == [("range", 0, 9),
                                                                      ("range", 2, 2)]


def test_empty_hop(tiny_instance) -> None:
    v = only(run(tiny_instance, hop(0, 0, 1, 1, 0, None, 1)), "empty_hop")
    assert (v.task, v.slot, v.node) == (0, 0, 1)


def test_finished_transfer(tiny_instance) -> None:
    ev = run(tiny_instance, A, hop(0, 1, 0, 2, 3, 2, 1, 0))  # done on the server, then sends
    v = only(ev, "finished_transfer")
    assert (v.task, v.slot, v.node) == (0, 1, 0)


@pytest.mark.parametrize("bad, node", [
    (hop(1, 0, 2, 1, 1, 10, 2), 2),     # task 1 arrives in slot 1
    (hop(0, 0, 2, 1, 1, 10, 2), 2),     # task 0's source is ED1, not ED2
    (hop(0, 0, 0, 1, 1, 1, 0), 0),      # nor the server
    (hop(0, 0, 1, 2, 2, 5, 1), 1),      # the first hop starts at layer 1
], ids=["before_arrival", "wrong_node", "on_server", "wrong_layer"])
def test_start(tiny_instance, bad: Hop, node: int) -> None:
    v = only(run(tiny_instance, bad), "start")
    assert (v.task, v.slot, v.node) == (bad.task, bad.slot, node)


@pytest.mark.parametrize("bad", [
    hop(0, 1, 1, 2, 3, 8, 1),   # A left the data on the server, not on ED1
    hop(0, 1, 0, 3, 3, 1, 0),   # A left off at layer 2, not 3
    hop(0, 1, 0, 1, 3, 2, 0),   # layer 1 again
], ids=["wrong_node", "skips_a_layer", "repeats_a_layer"])
def test_continuity(tiny_instance, bad: Hop) -> None:
    v = only(run(tiny_instance, A, bad), "continuity")
    assert (v.task, v.slot, v.node) == (0, 1, bad.node)


def test_overlap(tiny_instance) -> None:
    early_f = hop(2, 4, 0, 3, 3, 1, 0)  # E lasts slots 3-4, ends at 5
    v = only(run(tiny_instance, E, early_f), "overlap")
    assert (v.task, v.slot, v.node) == (2, 4, 0)
    assert v.amount == pytest.approx(1.0)
    # two hops in the same slot: overlap by the first hop's length
    v = only(run(tiny_instance, E, hop(2, 3, 0, 3, 3, 1, 0)), "overlap")
    assert (v.task, v.slot, v.amount) == (2, 3, pytest.approx(2.0))


def test_link(tiny_instance) -> None:
    bad = hop(1, 1, 2, 1, 0, None, 0, 1)  # ED2 -> server: 400 m, outside coverage
    v = only(run(tiny_instance, bad), "link")
    assert (v.task, v.slot, v.node, v.subcarrier) == (1, 1, 2, 1)
    assert "2 -> 0" in v.message


def test_link_too_far_for_d2d(tiny_variant) -> None:
    inst = tiny_variant(d2d_range_m=250.0)  # ED2 - ED1 is 300 m
    v = only(run(inst, C), "link")
    assert (v.task, v.slot, v.node, v.subcarrier) == (1, 1, 2, 1)


def test_transfer_time(tiny_variant) -> None:
    inst = tiny_variant(bandwidth_hz=1e5)  # 50 kHz subcarriers: O[1] takes ~1 s over 100 m
    tau = BITS[1] / rate(100.0, subcarrier_hz=5e4)
    assert tau > DELTA
    ev = run(inst, A)
    v = only(ev, "transfer_time")
    assert (v.task, v.slot, v.node, v.subcarrier) == (0, 0, 1, 0)
    assert v.amount == pytest.approx(tau - DELTA, rel=1e-9)
    assert ev.objective is not None  # infeasible schedules are still scored


@pytest.mark.parametrize("bad, amount", [
    (hop(0, 3, 1, 1, 1, 1, 1), 1),   # 1e8 at 0.1 GHz = 1 s: slots 3-4, ends at 5 > 4
    (hop(0, 4, 1, 1, 1, 5, 1), 1),   # starts at the deadline
    (hop(0, 3, 1, 1, 3, 2, 1), 3),   # 4e8 at 0.2 GHz = 2 s = 4 slots: ends at 7 > 4
], ids=["ends_late", "starts_at_deadline", "ends_far_too_late"])
def test_deadline(tiny_instance, bad: Hop, amount: int) -> None:
    v = only(run(tiny_instance, bad), "deadline")
    assert (v.task, v.slot, v.node) == (0, bad.slot, 1)
    assert v.amount == pytest.approx(amount)


def test_hop_ending_exactly_at_deadline_is_allowed(tiny_instance) -> None:
    ev = run(tiny_instance, hop(0, 3, 1, 1, 3, 8, 1))  # 0.5 s: ends at 4 = deadline
    assert ev.feasible
    assert ev.completion_rate == pytest.approx(1 / 3)


def test_capacity_two_tasks(tiny_instance) -> None:
    # tasks 0 and 2 each hold 0.5 GHz on ED1 in slot 2; ED1 has 0.8 GHz available
    ev = run(tiny_instance, hop(0, 2, 1, 1, 1, 5, 1), hop(2, 2, 1, 1, 1, 5, 1))
    v = only(ev, "capacity")
    assert (v.slot, v.node) == (2, 1)
    assert v.amount == pytest.approx(0.2e9)
    assert v.tasks == (0, 2)
    assert v.task is None
    assert ev.held_hz[2, 1] == pytest.approx(1.0e9)
    assert ev.objective is not None


def test_capacity_background_load_counts(tiny_instance) -> None:
    v = only(run(tiny_instance, hop(0, 0, 1, 1, 1, 9, 1)), "capacity")  # 0.9 GHz > 0.8 GHz
    assert (v.slot, v.node, v.tasks) == (0, 1, (0,))
    assert v.amount == pytest.approx(0.1e9)


def test_capacity_held_during_every_slot_of_a_hop(tiny_instance) -> None:
    # E holds 0.4 GHz on ED1 in slots 3 and 4; task 1 adds 0.5 GHz in slot 4 only
    late = hop(1, 4, 1, 1, 1, 5, 1)
    ev = run(tiny_instance, C, late, E)
    v = only(ev, "capacity")
    assert (v.slot, v.node, v.tasks) == (4, 1, (1, 2))
    assert v.amount == pytest.approx(0.1e9)


def test_capacity_per_node(tiny_instance) -> None:
    # the server (10 GHz, no background) may be held entirely by one task ...
    task0 = (A, hop(0, 3, 0, 2, 3, 10, 0))               # 10 GHz in slot 3
    task1 = (C, hop(1, 2, 1, 1, 0, None, 0, 0), hop(1, 3, 0, 1, 3, 1, 0))  # 1 GHz in slot 3
    assert run(tiny_instance, *task0).feasible
    assert run(tiny_instance, *task1).feasible
    # ... but not by two at once; ED1 and ED2 are unaffected
    ev = run(tiny_instance, *task0, *task1)
    v = only(ev, "capacity")
    assert (v.slot, v.node, v.tasks) == (3, 0, (0, 1))
    assert v.amount == pytest.approx(1e9)


def test_subcarrier_conflict(tiny_instance) -> None:
    moved_a = hop(0, 1, 1, 1, 0, None, 0, 1)  # task 0 sends its input in slot 1 on sub 1
    ev = run(tiny_instance, moved_a, C)        # C also sends in slot 1 on sub 1
    v = only(ev, "subcarrier")
    assert (v.slot, v.subcarrier, v.tasks) == ((1, 1, (0, 1)))
    assert v.amount == pytest.approx(1.0)
    # on the other subcarrier there is no conflict
    assert run(tiny_instance, hop(0, 1, 1, 1, 0, None, 0, 0), C).feasible


def test_subcarrier_is_held_in_the_last_slot_of_a_hop(tiny_instance) -> None:
    # E (slots 3-4) sends in slot 4 on sub 0
    same_slot_3 = hop(0, 3, 1, 1, 0, None, 0, 0)  # slot 3, sub 0: no conflict
    assert run(tiny_instance, E, same_slot_3).feasible
    on_ed1 = hop(1, 4, 1, 1, 0, None, 0, 0)       # slot 4, sub 0: conflict with E
    v = only(run(tiny_instance, E, C, on_ed1), "subcarrier")
    assert (v.slot, v.subcarrier, v.tasks) == (4, 0, (1, 2))


def test_violation_str_names_the_place() -> None:
    v = Violation("capacity", "too much", slot=2, node=1)
    assert str(v) == "[capacity] slot=2, node=1: too much"
    assert str(Violation("subcarrier", "x")) == "[subcarrier] x"


def test_hop_order_within_a_task_does_not_matter(small_instance) -> None:
    """A schedule is a set of hops: listing a task's hops out of time order gives the same
    verdict and the same numbers as listing them in order (as a saved file does)."""
    from dcibench.registry import make_solver

    hops = make_solver("ec").solve(small_instance).schedule.hops
    assert any(a.task == b.task for a, b in itertools.pairwise(hops))
    in_order = evaluate(small_instance, Schedule(hops))
    shuffled = evaluate(small_instance, Schedule(tuple(reversed(hops))))
    assert in_order.feasible and shuffled.feasible
    assert shuffled.objective == in_order.objective
    assert shuffled.collaborations == in_order.collaborations
