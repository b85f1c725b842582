"""Log events: which log lines signal a failed upgrade, and which lines make up ONE failure.

Detection's log probe (``logs``) and the backtest's replay of recorded log lines both feed
lines, in file order, to a :class:`Counter`; what it reports is the number of **events**, not
of lines. A kernel OOM report logs one to three or more matching lines (``invoked
oom-killer``, ``oom-kill:constraint=...``, ``Out of memory: Killed process 1234``,
``oom_reaper: reaped process 1234``), systemd-oomd's kill of a cgroup one or two (its notice,
PID 1's count of the processes killed); an oops or a panic logs several; a failed systemd unit
logs three. Each is one event. This module is pure (no I/O, no clock): the same lines in the
same order always give the same events.

An event is described by an :class:`EventSpec`: a few :class:`Cue` regexes, each saying what
a matching line does, and ``within``, how close (in lines of the file, matching or not) a line
must follow the event's previous line to belong to it. For a line matching a cue:

1. a ``starts`` cue always begins a new event (the first line of a report);
2. otherwise, when the cue captures a **key** (the regex's ``key`` group: a pid, an oops
   number, a unit name) and one of the spec's recent events with that key took a line at most
   ``within`` lines ago, the line joins that event;
3. otherwise, when the newest event took a line at most ``within`` lines ago and either that
   event has no key yet or the line has none (and its cue is not ``fresh``: such a line joins
   only an event with no key yet), the line joins it (and a key-less event takes the key);
4. otherwise the line begins a new event, unless the cue is ``joins_only`` (such a line, a
   report's trailer, is ignored when there is nothing to join).

When the lines' times are known, a line must also come at most ``within_s`` seconds after the
event's previous line to join it. Recorded log lines carry their own times; the live probe
stamps the lines of one read with the time of that read. The time bound keeps two reports
apart that the line bound alone would merge when the lines between them are missing (a
recording keeps only matching lines) or when a log is quiet.

``within = 0`` makes every matching line its own event (how ``patterns:`` behave unless the
probe configures grouping). A line counts once: it goes to the first spec with a matching cue
(the probe's own ``patterns`` first, then its presets in the order listed).

The catalogue (:data:`PRESETS`) covers the wordings of the kernels and systemd versions in
use; ``tests/unit/detect/test_detect_log_events.py`` tests the presets against real lines
quoted in public bug reports and mailing lists, each cited (a few cues, such as systemd's
``Failed with result 'oom-kill'``, only on lines of the documented format).
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rollsafe.domain import unit_names

__all__ = [
    "PRESETS",
    "Counter",
    "Cue",
    "EventSpec",
    "Found",
]

_I = re.IGNORECASE
RECENT = 8  # events per spec that a keyed line may still join (an oom_reaper line, a trailer)


@dataclass(frozen=True, slots=True)
class Cue:
    """One regex of an event spec and what a line matching it does (see the module notes)."""

    regex: re.Pattern[str]
    starts: bool = False
    joins_only: bool = False
    fresh: bool = False  # joins only an event that has no key yet
    within: int | None = None  # reach of this cue's lines, instead of the spec's
    key: re.Pattern[str] | None = None  # finds the key elsewhere in the line (user grouping)
    # False: the line says something about an event (a restart systemd scheduled) without being
    # a failure itself; an event made only of such lines is not counted (``EventSpec.twice``).
    counts: bool = True
    mark: str | None = None  # what the line says about its event, for ``EventSpec.twice``
    # Lower-case strings one of which every line the regex matches contains: a line holding
    # none of them is passed over without running the regex (most lines match nothing).
    needles: tuple[str, ...] = ()

    def key_of(self, match: re.Match[str]) -> str | None:
        """The line's key: the regex's ``key`` group, else ``key``'s (``key`` or first) group."""
        if "key" in self.regex.groupindex:
            return match.group("key")
        if self.key is None:
            return None
        found = self.key.search(match.string)
        if found is None:
            return None
        return found.group("key") if "key" in self.key.groupindex else found.group(1)


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What one kind of event looks like in a log: its cues, and how close its lines are."""

    name: str
    cues: tuple[Cue, ...]
    within: int = 0  # lines: 0 means every matching line is an event of its own
    within_s: float | None = None  # seconds, when line times are known (module notes)
    # What an event's lines name as its subject (its ``name`` group): the OOM killer's victim.
    names: tuple[re.Pattern[str], ...] = ()
    # An event holding a mark (``Cue.mark``) from each of these sets is two events: a unit that
    # failed (or that systemd restarted) and whose next start systemd then refused (its start
    # limit) failed twice, the run and the restart (see the systemd_failure preset).
    twice: tuple[frozenset[str], ...] = ()

    def weight(self, marks: set[str]) -> int:
        """How many events an event with counted lines and ``marks`` is."""
        if self.twice and all(marks & wanted for wanted in self.twice):
            return 2
        return 1

    @property
    def patterns(self) -> tuple[re.Pattern[str], ...]:
        return tuple(cue.regex for cue in self.cues)

    @property
    def needles(self) -> tuple[str, ...] | None:
        """Every cue's needles, or None when some cue has none (it must always be tried)."""
        if any(not cue.needles for cue in self.cues):
            return None
        return tuple(dict.fromkeys(n for cue in self.cues for n in cue.needles))


def _cue(
    pattern: str,
    *,
    flags: int = _I,
    starts: bool = False,
    joins_only: bool = False,
    fresh: bool = False,
    within: int | None = None,
    needles: tuple[str, ...] = (),
    counts: bool = True,
    mark: str | None = None,
) -> Cue:
    return Cue(
        re.compile(pattern, flags),
        starts=starts,
        joins_only=joins_only,
        fresh=fresh,
        within=within,
        needles=needles,
        counts=counts,
        mark=mark,
    )


# Unit names as systemd writes them (escaped characters, template instances included).
_UNIT = r"(?P<key>[\w@.:\\-]+\.(?:service|socket|mount|automount|timer|scope|swap|path|target))"
# A task's name as the kernel prints it (its comm, ``%s`` of ``task->comm``): what the program or
# the thread set (prctl PR_SET_NAME, pthread_setname_np), cut to 15 characters, and any of them:
# spaces ("Web Content", "FwgThread OpFor"), ":" and "/" ("kworker/u8:2"), brackets, commas.
# So a pattern reads it as 1 to 15 characters of anything, shortest first, up to the separator
# the kernel writes after it (":pid", "[pid]", "/pid"), never as ``\S+``.
_COMM_TEXT = r".{1,15}?"
_COMM = f"(?:{_COMM_TEXT})"
# Signals systemd treats as a clean end of a service by default: SIGHUP, SIGINT, SIGTERM, SIGPIPE.
_CLEAN_SIGNALS = r"(?:1|2|13|15)/"

_LEVEL = r"TRACE|DEBUG|INFO|NOTICE|WARN|WARNING"
_ERROR_LEVEL = r"ERROR|FATAL|CRITICAL"
_KEYED_LEVEL = r"error|fatal|critical|crit|panic|emerg|alert"

PRESETS: dict[str, EventSpec] = {
    # One event per OOM kill: the report's lines share the victim's pid. Older kernels log
    # "Out of memory: Kill process N (x) score S or sacrifice child" then "Killed process M",
    # where M may be a child of N: the first line takes no key (so M becomes the event's) but
    # joins only a report that has not named its victim yet.
    "oom": EventSpec(
        name="oom",
        cues=(
            _cue(r"\binvoked oom-killer\b", starts=True, needles=("oom-killer",)),
            _cue(
                rf"\boom-kill:constraint=.*?\btask={_COMM},pid=(?P<key>\d+)",
                needles=("oom-kill:",),
            ),
            _cue(r"\boom-kill:constraint=", fresh=True, needles=("oom-kill:",)),
            _cue(r"\bkilled process (?P<key>\d+)\b", needles=("killed process",)),
            _cue(r"\bout of memory: kill process \d+", fresh=True, needles=("kill process",)),
            _cue(r"\boom_reaper: reaped process (?P<key>\d+)\b", needles=("oom_reaper",)),
            _cue(
                r"\bTask in \S+ killed as a result of limit of\b",
                fresh=True,
                needles=("killed as a result of limit",),
            ),
            # systemd's view of the same kill joins the kernel's report when it follows it
            # closely; alone (the kernel log is elsewhere) it is the event.
            _cue(
                r"\bA process of this unit has been killed by the OOM killer\b",
                within=100,
                needles=("oom killer",),
            ),
            _cue(
                r"\bThe kernel OOM killer killed some processes in this unit\b",
                within=100,
                needles=("oom killer",),
            ),
            _cue(r": Failed with result 'oom-kill'", within=100, needles=("oom-kill",)),
            # systemd-oomd, the userspace killer, kills a whole cgroup on memory pressure or
            # swap use and logs one notice per kill: "Killed <cgroup> due to ..." (v248 on),
            # "Marked <cgroup> for killing due to ..." (newer releases). Each is a kill of its
            # own (oomd may kill the same unit again a minute later); its key is the cgroup's
            # last component, the unit name under which PID 1 then logs "systemd-oomd killed N
            # process(es) in this unit", which joins it, or alone is the event. Its debug
            # lines ("oomd attempting to kill <pid>", one per process) and its survey
            # ("Considered N cgroups for killing") are not kills.
            _cue(
                r"\b(?:Killed|Marked) /(?:\S*/)?(?P<key>[^/\s]+) (?:for killing )?due to "
                r"(?:memory pressure for |memory used \(|swap used \()",
                flags=0,
                starts=True,
                needles=("due to memory", "due to swap"),
            ),
            _cue(
                r"(?P<key>[^\s/]+): systemd-oomd killed \d+ process\(es\) in this unit\b",
                flags=0,
                within=100,
                needles=("systemd-oomd killed",),
            ),
        ),
        within=5000,  # the task dump between the first and the kill line can be long
        within_s=120.0,
        # The victim, so a rule can tell a kill of the database from one of a side job: the
        # process name of "Killed process N (name)" (every kernel; cgroup v1 and v2 alike),
        # older kernels' "Kill process N (name) score", the cgroup-aware summary's
        # "task=name," (4.19 on), and systemd-oomd's cgroup (its unit). And the victim's
        # unit where the report names it: the summary's "task_memcg=/system.slice/x.service"
        # (the victim's memory cgroup: its unit under systemd on cgroup v2), PID 1's
        # "x.service: A process of this unit has been killed by the OOM killer." (and its
        # other OOM wordings). A database in a runtime shared by other programs (a JVM is
        # killed as "java", an Erlang VM as "beam.smp") is told apart by its unit.
        names=(
            re.compile(
                rf"\bkill(?:ed)? process \d+(?:, UID \d+,)? \((?P<name>{_COMM_TEXT})\)(?=[\s,]|$)",
                _I,
            ),
            re.compile(rf"\boom-kill:constraint=.*?\btask=(?P<name>{_COMM_TEXT}),pid=\d", _I),
            re.compile(r"\btask_memcg=[^,\s]*/(?P<name>[^/,\s]+\.(?:service|scope))(?=,)"),
            re.compile(r"\b(?:Killed|Marked) /(?:\S*/)?(?P<name>[^/\s]+) (?:for killing )?due to "),
            re.compile(
                rf"{_UNIT.replace('?P<key>', '?P<name>')}: (?:A process of this unit has been "
                r"killed by the OOM killer|The kernel OOM killer killed some processes in this "
                r"unit|Failed with result 'oom-kill')"
            ),
        ),
    ),
    # One event per kernel crash report: an oops (BUG / Oops / general protection fault /
    # invalid opcode, numbered [#N]) and the panic that may follow it are one event.
    "kernel_panic": EventSpec(
        name="kernel_panic",
        cues=(
            _cue(
                r"\bBUG: unable to handle (?:kernel )?"
                r"(?:NULL pointer dereference|paging request|page fault)\b",
                starts=True,
                needles=("unable to handle",),
            ),
            _cue(
                r"\bBUG: kernel NULL pointer dereference\b", starts=True, needles=("null pointer",)
            ),
            _cue(r"\bkernel BUG at \S+:\d+", starts=True, needles=("kernel bug at",)),
            _cue(
                r"\bUnable to handle kernel (?:NULL pointer dereference|paging request)\b",
                starts=True,
                needles=("unable to handle",),
            ),
            _cue(
                r"\b(?:Oops|general protection fault|invalid opcode|stack segment|double fault)"
                r"\b[^\[\]]*?: [0-9a-f]{4} \[#(?P<key>\d+)\]",
                needles=("[#",),
            ),
            _cue(r"\bInternal error: Oops\b[^\[\]]*\[#(?P<key>\d+)\]", needles=("[#",)),
            _cue(r"\bKernel panic - not syncing\b", needles=("kernel panic",)),
            _cue(r"---\[ end Kernel panic\b", joins_only=True, needles=("---[ end",)),
            _cue(r"---\[ end trace [0-9a-f]+ \]---", joins_only=True, needles=("---[ end",)),
        ),
        within=400,
        within_s=120.0,
    ),
    # One event per burst of non-fatal kernel BUG reports: the kernel found a defect and lives
    # on (it taints itself, W or B, as for a WARNING, and panics only under panic_on_warn):
    # sleeping in atomic context (kernel/sched/core.c's __schedule_bug, __might_resched), a
    # page freed in a bad state (mm's bad_page), a KASAN report, a corrupted list found by
    # CONFIG_DEBUG_LIST (printed with a WARNING; where the kernel makes it a BUG_ON, the
    # "kernel BUG at lib/list_debug.c" oops is kernel_panic's). No line starts an event: the
    # lines of one burst (a might_sleep report and the "scheduling while atomic" that follows
    # it, the bad pages of one free) are one event; lines more than a second apart, in a log
    # whose lines carry their times, are separate events. A plain "WARNING: CPU: N PID: M at"
    # is not here: most are harmless (a driver's clock disabled twice), the kernel says no more.
    "kernel_bug": EventSpec(
        name="kernel_bug",
        cues=(
            _cue(
                rf"\bBUG: scheduling while atomic: {_COMM}/\d+/0x[0-9a-f]+",
                needles=("scheduling while atomic",),
            ),
            _cue(
                r"\bBUG: sleeping function called from invalid context\b",
                needles=("sleeping function called",),
            ),
            _cue(r"\bBUG: Bad page state in process\b", needles=("bad page state",)),
            _cue(r"\bBUG: KASAN: [\w-]+", needles=("kasan:",)),
            _cue(r"\blist_(?:add|del) corruption\b", needles=("corruption",)),
        ),
        within=200,
        within_s=1.0,
    ),
    # One event per hang of a network adapter's transmit path, as the kernel and the drivers
    # report it: the stack's transmit watchdog (``NETDEV WATCHDOG: eth0 (igb): transmit queue
    # 0 timed out``; 6.x: ``eth4: NETDEV WATCHDOG: CPU: 3: transmit queue 0 timed out 5010
    # ms``; older kernels, before multiqueue (2.6.18): ``NETDEV WATCHDOG: eth0: transmit timed
    # out``), Intel's drivers finding the hang themselves (e1000e's ``Detected Hardware Unit
    # Hang:``, e1000/igb/ixgbe's ``Detected Tx Unit Hang``, ixgbe's ``tx hang N detected on
    # queue Q, resetting adapter``, i40e's ``tx_timeout recovery level N``), the reset that
    # follows (e1000e's ``Reset adapter unexpectedly``, ixgbe's ``initiating reset due to tx
    # timeout``, r8168's ``Transmit timeout reset Device!``). Repeated lines of one hang
    # (e1000e reports it every 2 s while it lasts, the watchdog every 5 s, ixgbe one line per
    # queue) are one event; lines more than 30 s apart are separate hangs (30 s, not less:
    # the live probe stamps a read's lines with the read's time, 15 s apart, and a hang that
    # lasts through two reads is still one). A plain ``Reset adapter`` (igb, ixgbe, e1000e)
    # joins a hang reported just before it and is nothing alone: those drivers also reset
    # after a link loss with frames still queued (ixgbe's ``initiating reset to clear Tx work
    # after link loss``), a cable or a switch port, not the driver. ``NIC Link is Down`` or
    # ``Up`` is never an event: a link flap, a switch rebooting, every boot.
    "nic_hang": EventSpec(
        name="nic_hang",
        cues=(
            _cue(
                r"\bNETDEV WATCHDOG: .{0,120}?\btransmit (?:queue \d+ )?timed out\b",
                needles=("netdev watchdog",),
            ),
            _cue(r"\bDetected (?:Hardware|Tx) Unit Hang\b", needles=("unit hang",)),
            _cue(
                r"\btx hang \d+ detected on queue \d+, resetting adapter\b",
                needles=("tx hang",),
            ),
            _cue(r"\btx_timeout recovery level \d+", needles=("tx_timeout recovery",)),
            _cue(r"\binitiating reset due to tx timeout\b", needles=("reset due to tx timeout",)),
            _cue(r"\bReset adapter unexpectedly\b", needles=("reset adapter",)),
            _cue(r"\bTransmit timeout reset Device\b", needles=("transmit timeout reset",)),
            _cue(r"\bReset adapter\b", joins_only=True, needles=("reset adapter",)),
        ),
        within=2000,  # the watchdog's WARNING carries a module list and a call trace
        within_s=30.0,
    ),
    # One event per report: the kernel repeats a soft lockup or hung task report while the
    # condition lasts, and each report is counted.
    "lockup": EventSpec(
        name="lockup",
        cues=(
            _cue(
                r"\bBUG: soft lockup - CPU#\d+ stuck for \d+s",
                starts=True,
                needles=("soft lockup",),
            ),
            _cue(
                r"\bWatchdog detected hard LOCKUP on cpu \d+", starts=True, needles=("hard lockup",)
            ),
            # The "INFO: " prefix is missing where a dmesg reader strips the level word.
            _cue(
                rf"\b(?:INFO: )?task {_COMM}:\d+ blocked for more than \d+ seconds",
                starts=True,
                needles=("blocked for more than",),
            ),
            # The workqueue watchdog (4.5 on): a worker pool made no progress for 30 s or
            # more (workqueue.watchdog_thresh); one line per stuck pool, as a soft lockup
            # logs one per stuck CPU.
            _cue(
                r"\bBUG: workqueue lockup - pool\b.* stuck for \d+s",
                starts=True,
                needles=("workqueue lockup",),
            ),
            _cue(
                r"\brcu_\w+ (?:self-)?detected stalls? on CPUs?",
                starts=True,
                needles=("detected stall",),
            ),
            _cue(
                r"hung_task_timeout_secs\S* disables this message",
                joins_only=True,
                needles=("hung_task_timeout_secs",),
            ),
        ),
        within=200,
        within_s=120.0,
    ),
    # One event per crashed process: the kernel's line and systemd-coredump's share the pid.
    "segfault": EventSpec(
        name="segfault",
        cues=(
            _cue(r"\[(?P<key>\d+)\]: segfault at [0-9a-f]+ ip\b", needles=("segfault at",)),
            _cue(r"\bsegfault at [0-9a-f]+ ip\b", needles=("segfault at",)),
            _cue(
                rf"\btraps: {_COMM}\[(?P<key>\d+)\] (?:general protection|trap (?:invalid opcode|"
                r"divide error|stack segment|int3))",
                needles=("traps:",),
            ),
            # Kernels before 3.x logged the same trap lines without the ``traps:`` prefix
            # (RHEL/CentOS 6's 2.6.32, still in fleets): ``cupsd[9073] general protection
            # ip:... sp:... error:0 in libc-2.12.so``; ``ip:`` right after keeps prose out.
            _cue(
                r"\b\S+?\[(?P<key>\d+)\] (?:general protection|trap (?:invalid opcode|"
                r"divide error|stack segment|int3)) ip:[0-9a-f]+ sp:",
                needles=("general protection ip:", "] trap "),
            ),
            _cue(
                r"\bProcess (?P<key>\d+) \(.*\) of user \d+ dumped core\b", needles=("dumped core",)
            ),
        ),
        within=200,
        within_s=120.0,
    ),
    # One event per crash of a database server, as the database logs it itself (its own log,
    # or syslog where its packages send it): what a host whose kernel log is not shipped (a
    # container, a managed host, a pipeline that ships only the application's logs) still
    # shows. A crash report is several lines (PostgreSQL's postmaster: the child that died,
    # every other backend told to quit, the reset, the crash recovery; a MySQL or MariaDB
    # crash report with its backtrace; a Redis bug report of hundreds of lines); each is one
    # event. Its first line begins the event; the restart's recovery lines join it, or alone
    # (the server died without a word: its postmaster or mysqld SIGKILLed, the host powered
    # off) are the event. An orderly stop is no crash and matches nothing: PostgreSQL's "fast
    # shutdown request", "terminating connection due to administrator command"; Redis's
    # "Received SIGTERM" and "ready to exit"; MySQL's "Normal shutdown". Lines that every
    # backend or every restart repeats ("terminating connection because of crash of another
    # server process", "database system was interrupted") only join a crash begun. Not here:
    # MySQL's "Out of memory (Needed N bytes)", an allocation the server reports and lives on,
    # and WiredTiger errors, most of which a mongod survives (a fatal one ends in a fatal
    # assertion, which is here).
    "db_crash": EventSpec(
        name="db_crash",
        cues=(
            # PostgreSQL: any child of the postmaster (a backend, a background or parallel
            # worker, the checkpointer) that died of a signal; keyed by its pid.
            _cue(
                r"\(PID (?P<key>\d+)\) was terminated by (?:signal \d+|exception 0x[0-9a-f]+)",
                starts=True,
                needles=("was terminated by",),
            ),
            # ... what the postmaster does on any child's crash (also after a child "exited
            # with exit code 2" or a PANIC): reset every backend.
            _cue(
                r"\bterminating any other active server processes\b",
                needles=("terminating any other active server processes",),
            ),
            _cue(
                r"\bterminating connection because of crash of another server process\b",
                joins_only=True,
                needles=("because of crash of another",),
            ),
            _cue(
                r"\ball server processes terminated; reinitializing\b",
                joins_only=True,
                needles=("reinitializing",),
            ),
            _cue(
                r"\bdatabase system was interrupted(?:;| while in recovery)",
                joins_only=True,
                needles=("database system was interrupted",),
            ),
            # PostgreSQL starting after it died without a shutdown checkpoint (also after an
            # immediate-mode stop, `pg_ctl stop -m immediate`: one event, as a power cut).
            _cue(
                r"\bdatabase system was not properly shut down; automatic recovery in progress",
                needles=("not properly shut down",),
            ),
            # MySQL, MariaDB, Percona: the signal handler's report ("mysqld got signal 11 ;"),
            # MariaDB 10.5 on may name its server "mariadbd".
            _cue(
                r"\b(?:mysqld|mariadbd) got (?:signal \d+|exception 0x[0-9a-f]+)",
                starts=True,
                needles=(" got signal", " got exception"),
            ),
            # InnoDB starting after a crash (or any stop without its shutdown).
            _cue(
                r"\bInnoDB\]?:? (?:Database was not shut ?down normally|Starting crash recovery)",
                needles=("innodb",),
            ),
            _cue(
                r"\bmysqld_safe Number of processes running now: 0\b",
                joins_only=True,
                needles=("processes running now",),
            ),
            # MongoDB: a fatal assertion or an invariant ends the process (text logs before
            # 4.4, JSON logs from 4.4: "msg":"Fatal assertion"), then the abort's own lines.
            _cue(
                r"\b(?:Fatal assertion|Invariant failure)\b",
                starts=True,
                needles=("fatal assertion", "invariant failure"),
            ),
            _cue(
                r"\*\*\*aborting after (?:fassert|invariant|terminate)\(\) failure",
                needles=("aborting after",),
            ),
            _cue(
                r"\bGot signal: \d+ \((?:Segmentation fault|Aborted|Bus error|"
                r"Illegal instruction|Floating point exception)\)",
                needles=("got signal:",),
            ),
            # Redis (and its forks): the bug report a crash or an assertion prints.
            _cue(
                r"=== (?:REDIS|VALKEY|KEYDB) BUG REPORT START\b",
                starts=True,
                needles=("bug report start",),
            ),
            _cue(
                r"\b(?:Redis|Valkey|KeyDB) \S+ crashed by signal: \d+",
                needles=("crashed by signal",),
            ),
            _cue(r"\bGuru Meditation: ", needles=("guru meditation",)),
            _cue(
                r"=== (?:REDIS|VALKEY|KEYDB) BUG REPORT END\b",
                joins_only=True,
                needles=("bug report end",),
            ),
        ),
        within=5000,  # a Redis report prints INFO and every client; a backtrace 50 lines
        within_s=120.0,
    ),
    # One event per unit failure: a main or control process exiting badly begins it; the
    # "Failed with result", "entered failed state", "Start request repeated too quickly" and
    # "Failed to start" lines that follow join it (by unit name, or by being close). So a crash
    # loop counts each crash, and one failure that logs five lines counts once.
    #
    # A restart that systemd refuses after the unit failed is a second failure: the start limit
    # (StartLimitBurst starts within StartLimitIntervalSec, 5 in 10 s by default) is reached by a
    # unit that systemd restarted and that ended again and again within seconds; then it stops
    # restarting it, and the unit stays down. systemd says so when the refusal ("Start request
    # repeated too quickly", result 'start-limit-hit') comes with the run's own failure (systemd
    # keeps the run's result, e.g. 'exit-code', when the limit is hit right after it) or with
    # its automatic restart ("Scheduled restart job, restart counter is at N", "hold-off time
    # over, scheduling restart", "RestartSec=... expired, scheduling restart"; lines that count
    # nothing alone: Restart=always restarts clean exits too). A refusal alone (a unit started
    # too often by logins, a path or a timer, an operator's restarts) stays one failure.
    "systemd_failure": EventSpec(
        name="systemd_failure",
        cues=(
            _cue(
                rf"{_UNIT}: (?:Main|Control) process exited, code=(?:killed, status="
                rf"(?!{_CLEAN_SIGNALS})|dumped|exited,? status=(?!0\b))",
                starts=True,
                needles=("process exited",),
                mark="failed",
            ),
            _cue(
                rf"{_UNIT}: Failed with result 'start-limit-hit'",
                flags=0,
                needles=("failed with result",),
                mark="refused",
            ),
            _cue(
                rf"{_UNIT}: Failed with result '[\w-]+'",
                flags=0,
                needles=("failed with result",),
                mark="failed",
            ),
            _cue(
                rf"{_UNIT}: Start request repeated too quickly",
                flags=0,
                needles=("start request repeated",),
                mark="refused",
            ),
            _cue(
                rf"{_UNIT}: Unit entered failed state", flags=0, needles=("entered failed state",)
            ),
            _cue(
                rf"\bUnit {_UNIT} entered failed state", flags=0, needles=("entered failed state",)
            ),
            _cue(rf"(?:^|\s){_UNIT} failed\.?\s*$", flags=0, needles=("failed",)),
            _cue(r"\bFailed to start \S.*\.\s*$", flags=0, needles=("failed to start",)),
            _cue(
                rf"{_UNIT}:? (?:Scheduled restart job, restart counter is at \d+|(?:Service )?"
                r"hold-?off time over, scheduling restart|Service RestartSec=\S+ expired, "
                r"scheduling restart)",
                needles=("scheduling restart", "restart counter is at"),
                counts=False,
                mark="restarted",
            ),
        ),
        within=50,
        within_s=120.0,
        twice=(frozenset({"refused"}), frozenset({"failed", "restarted"})),
    ),
    # One event per orderly shutdown or reboot of the host: what systemd-logind, PID 1,
    # systemd-shutdown and the kernel log when a reboot was *asked for* (``reboot``,
    # ``shutdown -r``, ``systemctl reboot``, an upgrade tool's reboot). A crash logs none of
    # it: a panic prints "Rebooting in N seconds" and resets without ``kernel_restart`` (no
    # "reboot: Restarting system"), a power loss or a hang logs nothing. Lines that also come
    # from a mere daemon restart (journald's "Journal stopped", rsyslogd "exiting on signal
    # 15") only join a shutdown already begun. Not a failure: the judge's planned-reboot hold
    # reads it (``policy.planned_reboots``), no rule should count it as a symptom.
    "shutdown": EventSpec(
        name="shutdown",
        cues=(
            _cue(
                r"\bsystemd-logind(?:\[\d+\])?: (?:The system will (?:reboot|power off|halt)"
                r" now!|System (?:userspace )?is (?:rebooting|powering down|halting)\.)",
                flags=0,
                needles=("system will", "system is", "system userspace is"),
            ),
            _cue(
                r"\bsystemd\[1\]: (?:Reached target (?:(?:shutdown|reboot|poweroff|halt|kexec|"
                r"final)\.target\b|(?:System )?(?:Shutdown|Reboot|Power-Off|Power Off|Halt)\."
                r"|Final Step\.)|Stopped target (?:Multi-User System|multi-user\.target)\b"
                r"|Shutting down\.$)",
                flags=0,
                needles=("reached target", "stopped target", "shutting down."),
            ),
            _cue(
                r"\bsystemd-shutdown\[1\]: (?:Syncing filesystems and block devices|Sending "
                r"SIG(?:TERM|KILL) to remaining processes|Rebooting|Powering off|Halting)\b",
                flags=0,
                needles=("systemd-shutdown[1]",),
            ),
            # kernel_restart(), kernel_power_off(), kernel_halt(): the reboot system call;
            # a panic's emergency_restart() does not print them.
            _cue(
                r"\breboot: (?:Restarting system|Power down|System halted)\s*$",
                flags=0,
                needles=("reboot: ",),
            ),
            _cue(
                r"\bsystemd-journald\[\d+\]: Journal stopped\b",
                flags=0,
                joins_only=True,
                needles=("journal stopped",),
            ),
            _cue(
                r"\brsyslogd(?:\[\d+\])?: \[origin software=\"rsyslogd\"[^\]]*\] exiting on "
                r"signal 15\.",
                flags=0,
                joins_only=True,
                needles=("exiting on signal 15",),
            ),
        ),
        within=100_000,  # every line of one shutdown, however much a busy host logs in it
        # A shutdown logs continuously; its longest quiet gap is a stop job waiting for a
        # unit (DefaultTimeoutStopSec, 90 s). A second reboot minutes later is another one.
        within_s=120.0,
    ),
    # One event per finished boot: PID 1's "Startup finished in ..." once the default target
    # is reached (every unit it pulls in has started), or reaching the multi-user or
    # graphical target itself. The host is back: the planned-reboot hold ends there (the
    # kernel's first line, "Linux version", is too early: services have not started yet).
    "boot": EventSpec(
        name="boot",
        cues=(
            _cue(
                r"\bsystemd\[1\]: Startup finished in \d",
                flags=0,
                needles=("startup finished in",),
            ),
            _cue(
                r"\bsystemd\[1\]: Reached target (?:Multi-User System|multi-user\.target|"
                r"Graphical Interface|graphical\.target)\b",
                flags=0,
                needles=("reached target",),
            ),
        ),
        within=100_000,
        within_s=120.0,
    ),
    # One event per unit systemd began to stop: PID 1's job message as a stop job starts
    # ("systemctl stop" or "restart", a package's postinst, a config manager), in the
    # wording of newer systemd ("Stopping postgresql@15-main.service - PostgreSQL Cluster
    # 15-main...": unit and description) and of older ones ("Stopping PostgreSQL Cluster
    # 11-main...": the description alone). A crash never logs it: the process dies first,
    # and a restart by ``Restart=`` goes straight to "Stopped" and "Starting". Not a
    # failure: the judge's planned-restart hold reads it (``policy.planned_restarts``).
    "unit_stop": EventSpec(
        name="unit_stop",
        cues=(
            _cue(
                r"(?:^|\bsystemd\[1\]: )Stopping (?P<key>\S.*?)(?:\.\.\.|…)\s*$",
                flags=0,
                needles=("stopping ",),
            ),
        ),
        within=0,
    ),
    # One event per unit systemd finished starting ("Started X."; for a service of
    # ``Type=notify`` or ``forking`` once it said it is ready): the planned-restart hold
    # ends there. Not a failure either.
    "unit_start": EventSpec(
        name="unit_start",
        cues=(
            _cue(
                r"(?:^|\bsystemd\[1\]: )Started (?P<key>\S.*?)\.\s*$",
                flags=0,
                needles=("started ",),
            ),
        ),
        within=0,
    ),
    # One event per package run that leaves the host a reboot to do, as the package manager
    # logs it during the run or as it ends (before the reboot, so a probe reading the file
    # over ssh sees it in time, unlike the shutdown's last seconds): apt's history.log
    # entry listing a kernel image installed or upgraded, dpkg.log's `status installed
    # linux-image-...` (the kernel's postinst done: the next boot runs it; dpkg(1) documents
    # the format), unattended-upgrades' "Found /var/run/reboot-required, rebooting" (its
    # Automatic-Reboot, just before it calls shutdown -r). Removing a kernel needs no reboot,
    # and unattended-upgrades' "..., but not rebooting because ... logged in" is no reboot.
    # Not a failure: the judge's planned-reboot hold reads it (``planned_reboots.expected``).
    "reboot_expected": EventSpec(
        name="reboot_expected",
        cues=(
            _cue(
                r"(?:^|\s)(?:Install|Upgrade|Reinstall): .*\blinux-image-\S",
                flags=0,
                needles=("install: ", "upgrade: "),
            ),
            _cue(r"\bstatus installed linux-image-\S", flags=0, needles=("status installed",)),
            _cue(
                r"\bFound \S*/reboot-required, rebooting\s*$",
                flags=0,
                needles=("reboot-required, rebooting",),
            ),
        ),
        within=100_000,  # every line of one run, however many packages it logs between
        within_s=120.0,
    ),
    # Every error-grade line is an event (see the log probe's notes for what counts).
    "app_error": EventSpec(
        name="app_error",
        cues=(
            # No lower level word before the first error-grade one (a tempered scan).
            _cue(
                rf"^(?:(?!\b(?:{_LEVEL})\b).)*?\b(?:{_ERROR_LEVEL})\b",
                flags=0,
                needles=("error", "fatal", "critical"),
            ),
            _cue(
                r"\[(?:[a-z_]+:)?(?:error|crit|alert|emerg)\]",
                flags=0,
                needles=(
                    "error]",
                    "crit]",
                    "alert]",
                    "emerg]",
                ),
            ),
            _cue(
                rf"\b(?:level|lvl|severity)=\"?(?:{_KEYED_LEVEL})\b",
                needles=(
                    "level",
                    "lvl",
                    "severity",
                ),
            ),
            _cue(
                rf"\"(?:level|lvl|severity)\"\s*:\s*\"(?:{_KEYED_LEVEL})\"",
                needles=(
                    "level",
                    "lvl",
                    "severity",
                ),
            ),
        ),
        within=0,
    ),
}
"""Preset name (as in ``LogProbe.presets``) -> the events it counts (module notes)."""


@dataclass(frozen=True, slots=True)
class Found:
    """What a :class:`Counter` found since the previous ``take``.

    ``events``: events that began; ``lines``: matching lines that went into events (old or
    new); ``message``: the first line of the newest event that took a line, None if none did;
    ``names``: the subjects those lines named (``EventSpec.names``: an OOM kill's victim),
    each once, in order; ``units``: the systemd units the first lines of the events counted
    named, each once, in order (two units giving up within one look: both, not only the
    newest event's).
    """

    events: int = 0
    lines: int = 0
    message: str | None = None
    names: tuple[str, ...] = ()  # what the events' lines named as their subject (victims)
    units: tuple[str, ...] = ()  # the systemd units the events' first lines named

    def then(self, later: Found) -> Found:
        """What this and a ``later`` take found together (one observation of both)."""
        return Found(
            events=self.events + later.events,
            lines=self.lines + later.lines,
            message=later.message or self.message,
            names=tuple(dict.fromkeys((*self.names, *later.names))),
            units=tuple(dict.fromkeys((*self.units, *later.units))),
        )


@dataclass(slots=True)
class _Event:
    first: str | None  # its first counted line (None while only uncounted lines joined it)
    key: str | None
    last: int  # line number of its newest line
    last_time: float | None  # time of its newest line, when known
    marks: set[str] = field(default_factory=set)  # what its lines said (``Cue.mark``)
    weight: int = 0  # how many events it has counted for so far (``EventSpec.weight``)


@dataclass(slots=True)
class _Grouper:
    spec: EventSpec
    recent: collections.deque[_Event] = field(
        default_factory=lambda: collections.deque(maxlen=RECENT)
    )
    needles: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        self.needles = self.spec.needles

    def offer(
        self, line: str, low: str, number: int, time: float | None
    ) -> tuple[bool, _Event | None, int]:
        """(matched a cue, the event it went to or None, how many events the line added: 0,
        1 for a new event, or more when the line made its event weigh more; see
        ``EventSpec.twice``); ``low`` is the line in lower case, for the needles."""
        for cue in self.spec.cues:
            if cue.needles and not any(needle in low for needle in cue.needles):
                continue
            match = cue.regex.search(line)
            if match is None:
                continue
            key = cue.key_of(match)
            if not cue.starts:
                event = self._joinable(cue, key, number, time)
                if event is not None:
                    event.last = number
                    event.last_time = time
                    if event.key is None:
                        event.key = key
                    return True, event, self._weigh(event, cue, line)
                if cue.joins_only:
                    return True, None, 0
            event = _Event(first=None, key=key, last=number, last_time=time)
            self.recent.append(event)
            return True, event, self._weigh(event, cue, line)
        return False, None, 0

    def _weigh(self, event: _Event, cue: Cue, line: str) -> int:
        """Take ``cue``'s line into ``event``; how many events that adds."""
        if cue.mark is not None:
            event.marks.add(cue.mark)
        if cue.counts and event.first is None:
            event.first = line
        if event.first is None:
            return 0  # only uncounted lines so far (a restart systemd scheduled)
        weight = self.spec.weight(event.marks)
        added = max(0, weight - event.weight)
        event.weight = max(weight, event.weight)
        return added

    def _joinable(
        self, cue: Cue, key: str | None, number: int, time: float | None
    ) -> _Event | None:
        within = self.spec.within if cue.within is None else cue.within
        if within <= 0 or not self.recent:
            return None
        within_s = self.spec.within_s

        def near(event: _Event) -> bool:
            if number - event.last > within:
                return False
            if within_s is None or time is None or event.last_time is None:
                return True
            return time - event.last_time <= within_s

        if key is not None:
            for event in reversed(self.recent):
                if event.key == key and near(event):
                    return event
        newest = self.recent[-1]
        if not near(newest):
            return None
        if newest.key is None or (key is None and not cue.fresh):
            return newest
        return None


class Counter:
    """Groups lines, fed in file order, into the events of ``specs`` (module notes).

    Not thread-safe: one feeder at a time (the log follower's poll lock sees to it).
    """

    def __init__(self, specs: Sequence[EventSpec]) -> None:
        self.specs = tuple(specs)
        self._groupers = [_Grouper(spec) for spec in self.specs]
        self._number = 0
        self._events = 0
        self._lines = 0
        self._message: str | None = None
        self._names: dict[str, None] = {}
        self._units: dict[str, None] = {}

    def feed(self, lines: Iterable[str], *, time: float | None = None) -> None:
        """Take ``lines`` (every line of the file, matching or not, in order), all written at
        ``time`` if it is known."""
        for line in lines:
            self._line(line, time)

    def feed_timed(self, lines: Iterable[tuple[float, str]]) -> None:
        """Take ``(time, line)`` pairs, in file order (a recording's lines)."""
        for time, line in lines:
            self._line(line, time)

    def _line(self, line: str, time: float | None) -> None:
        self._number += 1
        low = line.lower()
        for grouper in self._groupers:
            needles = grouper.needles
            if needles is not None and not any(needle in low for needle in needles):
                continue
            matched, event, added = grouper.offer(line, low, self._number, time)
            if not matched:
                continue
            if event is not None and event.first is not None:
                self._lines += 1
                self._events += added
                self._message = event.first
                if added:  # an event counted (or weighs more): the units it is about
                    self._units.update(dict.fromkeys(unit_names.named(event.first)))
                for pattern in grouper.spec.names:
                    named = pattern.search(line)
                    if named is not None:
                        self._names[named.group("name")] = None
            return

    def take(self) -> Found:
        """What was found since the previous ``take``; starts counting afresh."""
        found = Found(
            self._events, self._lines, self._message, tuple(self._names), tuple(self._units)
        )
        self._events = self._lines = 0
        self._message = None
        self._names = {}
        self._units = {}
        return found
