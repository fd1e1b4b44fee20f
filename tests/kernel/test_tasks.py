"""Tasks, the thread_info MPAM word and the busybox process table of the seed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpam.kernel.tasks import (
    TASK_COMM_LEN,
    PartidPmg,
    Task,
    TaskTable,
    busybox,
    decode_regval,
    mpam_regval,
)

# The seed's `ps -A` listings, as captured (its lines lost their leading spaces).
SEED_PS = """\
1 0         0:00 sh
2 0         0:00 [kthreadd]
3 0         0:00 [rcu_gp]
4 0         0:00 [rcu_par_gp]
6 0         0:00 [kworker/0:0H]
8 0         0:00 [mm_percpu_wq]
9 0         0:00 [rcu_tasks_kthre]
10 0         0:00 [ksoftirqd/0]
11 0         0:00 [rcu_preempt]
12 0         0:00 [migration/0]
13 0         0:00 [cpuhp/0]
14 0         0:00 [cpuhp/1]
15 0         0:00 [migration/1]
16 0         0:00 [ksoftirqd/1]
17 0         0:00 [kworker/1:0-mm_]
18 0         0:00 [kworker/1:0H]
19 0         0:00 [cpuhp/2]
20 0         0:00 [migration/2]
23 0         0:00 [kworker/2:0H-ev]
24 0         0:00 [cpuhp/3]
25 0         0:00 [migration/3]
"""

# -- the MPAM word ---------------------------------------------------------------


def test_regval_fields_sit_where_mpam0_el1_has_them() -> None:
    # PARTID_I [15:0], PARTID_D [31:16], PMG_I [39:32], PMG_D [47:40]
    assert mpam_regval(partid_d=1, partid_i=1, pmg_d=0, pmg_i=0) == 0x10001
    assert mpam_regval(0x1234, 0x5678, 0xAB, 0xCD) == 0xAB_CD_1234_5678
    assert mpam_regval(0, 0, 1, 0) == 1 << 40
    assert mpam_regval(0, 0, 0, 1) == 1 << 32


def test_regval_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        mpam_regval(0x10000, 0, 0, 0)
    with pytest.raises(ValueError):
        mpam_regval(0, 0, 0x100, 0)
    with pytest.raises(ValueError):
        mpam_regval(-1, 0, 0, 0)


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFF), st.integers(0, 0xFF))
def test_decode_inverts_regval(pd: int, pi: int, gd: int, gi: int) -> None:
    word = mpam_regval(pd, pi, gd, gi)
    assert word >> 48 == 0
    assert decode_regval(word) == PartidPmg(pd, pi, gd, gi)


# -- tasks and the table ----------------------------------------------------------


def test_idle_tasks_are_pid_0_swapper_per_cpu() -> None:
    table = TaskTable(3)
    assert [t.comm for t in table.idle_tasks] == ["swapper/0", "swapper/1", "swapper/2"]
    assert all(t.pid == 0 and t.tgid == 0 and t.is_idle for t in table.idle_tasks)
    assert table.idle(2).cpus_allowed == {2} and table.idle(2).cpu == 2
    assert table.get(0) is None and len(table) == 0 and list(table) == []


def test_spawn_allocates_pids_truncates_comm_and_inherits_the_label() -> None:
    table = TaskTable(2)
    init = table.spawn("sh", ppid=0)
    init.mpam_partid_pmg = mpam_regval(3, 3, 1, 1)
    child = table.spawn("a_rather_long_command_name")
    assert (init.pid, child.pid) == (1, 2)
    assert child.comm == "a_rather_long_c" and len(child.comm) == TASK_COMM_LEN - 1
    assert child.ppid == 1 and child.tgid == 2
    assert child.mpam_partid_pmg == mpam_regval(3, 3, 1, 1)
    thread = table.spawn("worker", tgid=2)
    assert thread.tgid == 2 and table.threads(2) == [child, thread]
    kt = table.spawn("kthreadd", ppid=0, kthread=True)
    assert kt.mpam_partid_pmg == 0
    assert table.spawn("kworker/1:1", kthread=True, cpus_allowed={1}).ppid == 2


def test_spawn_checks_placement() -> None:
    table = TaskTable(2)
    with pytest.raises(ValueError):
        table.spawn("x", cpus_allowed={2})
    with pytest.raises(ValueError):
        table.spawn("x", cpus_allowed={0}, cpu=1)
    with pytest.raises(ValueError):
        table.spawn("x", tgid=99)
    assert len(table) == 0


def test_task_records_are_checked() -> None:
    with pytest.raises(ValueError):
        Task(5, 5, "x" * 16, 1, cpus_allowed=frozenset({0}))
    with pytest.raises(ValueError):
        Task(5, 5, "x", 1, cpus_allowed=frozenset({0}), state="Z")
    with pytest.raises(ValueError):
        Task(5, 5, "x", 1)


def test_exit_reparents_children_and_spares_init() -> None:
    table = TaskTable(1)
    table.spawn("sh", ppid=0)
    parent = table.spawn("parent")
    kid = table.spawn("kid", ppid=parent.pid)
    gone = table.exit(parent.pid)
    assert gone.state == "X" and parent.pid not in table
    assert kid.ppid == 1
    with pytest.raises(ValueError, match="kill init"):
        table.exit(1)
    with pytest.raises(KeyError):
        table.exit(parent.pid)


def test_pids_are_not_reused_at_once() -> None:
    table = TaskTable(1)
    table.spawn("sh", ppid=0)
    a = table.spawn("a")
    table.exit(a.pid)
    assert table.spawn("b").pid == a.pid + 1


# -- busybox -------------------------------------------------------------------------


def test_busybox_matches_the_seed_ps_listing() -> None:
    ps = busybox(16).ps()
    assert ps.splitlines()[0] == "PID   USER     TIME  COMMAND"
    rows = {line.split()[0]: line.strip() for line in ps.splitlines()[1:]}
    for seed_line in SEED_PS.splitlines():
        assert rows[seed_line.split()[0]] == seed_line
    assert "    1 0         0:00 sh\n" in ps  # busybox right-aligns the pid in 5 columns


def test_busybox_shape_for_any_cpu_count() -> None:
    for n in (1, 4, 16, 32):
        table = busybox(n)
        assert table[1].comm == "sh" and not table[1].kthread and table[1].ppid == 0
        assert table[2].comm == "kthreadd" and table[2].kthread and table[2].ppid == 0
        assert all(t.ppid == 2 for t in table if t.pid > 2)
        assert all(len(t.comm) <= 15 and len(t.proc_comm) <= 15 for t in table)
        assert table[9].comm == "rcu_tasks_kthre"
        assert table[7].comm == f"kworker/u{2 * n}:0"
        for cpu in range(n):
            for name in (f"cpuhp/{cpu}", f"migration/{cpu}", f"ksoftirqd/{cpu}",
                         f"kworker/{cpu}:0", f"kworker/{cpu}:0H"):  # fmt: skip
                (task,) = table.find(name)
                assert task.cpus_allowed == {cpu} and task.cpu == cpu
                assert task.is_per_cpu_kthread
        # The secondary CPUs' threads come in bring-up order, five per CPU.
        assert [t.comm for t in table if 14 <= t.pid < 14 + 5 * (n - 1)][:5] == (
            ["cpuhp/1", "migration/1", "ksoftirqd/1", "kworker/1:0", "kworker/1:0H"]
            if n > 1
            else []
        )
        assert table.find("kswapd0") and table.find("kdevtmpfs")
        assert all(t.state in "SI" and t.mpam_partid_pmg == 0 for t in table)


def test_busybox_per_node_threads_and_determinism() -> None:
    two = busybox(8, num_nodes=2)
    assert [t.comm for t in two if t.comm.startswith("kswapd")] == ["kswapd0", "kswapd1"]
    assert busybox(8).ps() == busybox(8).ps()


def test_busybox_fills_only_an_empty_table_of_its_size() -> None:
    table = TaskTable(4)
    assert busybox(4, table) is table and len(table) > 20
    with pytest.raises(ValueError):
        busybox(4, table)
    with pytest.raises(ValueError):
        busybox(2, TaskTable(4))


def test_proc_comm_appends_the_workqueue_like_wq_worker_comm() -> None:
    table = busybox(4)
    assert table[17].proc_comm == "kworker/1:0-mm_"
    assert table[17].comm == "kworker/1:0"
    assert table[18].proc_comm == "kworker/1:0H"
