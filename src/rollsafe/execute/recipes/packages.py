"""The package recipes: the installed package set before the upgrade, installed back.

Role in the loop (execute): for apt hosts the restore point is every installed package and
its version (or only ``packages``); rolling back installs the recorded versions of whatever
changed and removes what the upgrade added, in one ``apt-get install`` transaction
(``name=version`` to install or downgrade, ``name-`` to remove). For dnf hosts it is the last
``dnf history`` transaction id plus the rpm set; rolling back is ``dnf history rollback <id>``,
which undoes every transaction after it. Both verify by comparing the set again. Recorded
versions must still be downloadable (apt archive or dnf cache); when they are not, the step
fails with apt's or dnf's message rather than leaving a half-known state unreported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import parsing, recipes

# Debconf must never wait for an answer on a host nobody is looking at; keep changed
# configuration files as they are (the package's new default goes next to them).
_APT_ENV = "DEBIAN_FRONTEND=noninteractive"
_APT_OPTIONS = ("-o", "Dpkg::Options::=--force-confold", "-o", "Dpkg::Options::=--force-confdef")


PAGE_LINES = 150
"""Lines of a package list read per command: ~150 x 100 bytes stays under the transports'
default 16 KiB output limit, however many packages the host has."""


def paged(query: str, *, page: int, ok_status: int = 0) -> str:
    """``query`` run whole, only lines ``page*PAGE_LINES+1 ..`` printed; its exit status kept.

    The query's own status survives the pipe because it runs in a command substitution;
    statuses up to ``ok_status`` count as success (dpkg-query: 1 = some name unknown).
    """
    first = page * PAGE_LINES + 1
    last = first + PAGE_LINES - 1
    return (
        f'out=$({query}); rc=$?; [ "$rc" -le {ok_status} ] || exit "$rc"; '
        f"printf '%s\\n' \"$out\" | sed -n '{first},{last}p'"
    )


async def read_paged(
    host: recipes.Host,
    query: str,
    *,
    ok_status: int = 0,
    what: str,
    limit_s: float,
) -> str:
    """The whole output of ``query``, read a page per command so no page is ever cut."""
    pages: list[str] = []
    for page in range(100_000):
        script = paged(query, page=page, ok_status=ok_status)
        result = await host.run(script, limit_s=limit_s)
        text = parsing.require_complete(result, what=what)
        pages.append(text)
        if len(text.splitlines()) < PAGE_LINES:
            break
    return "".join(pages)


class AptRecipe(recipes.Stepped):
    kind = "apt"

    def __init__(self, config: models.AptRecipe) -> None:
        self.config = config

    def query_script(self) -> str:
        words = ["dpkg-query", "-W", "-f=" + parsing.DPKG_FORMAT, *(self.config.packages or [])]
        return parsing.quote_all(words)

    async def installed(self, host: recipes.Host, *, limit_s: float) -> dict[str, str]:
        # dpkg-query exits 1 when a named package is unknown; the others are still printed.
        text = await read_paged(
            host,
            self.query_script(),
            ok_status=1 if self.config.packages else 0,
            what="dpkg-query",
            limit_s=limit_s,
        )
        return parsing.parse_dpkg_query(text)

    async def checkpoint(
        self, host: recipes.Host, *, point_id: str, limit_s: float
    ) -> Mapping[str, Any]:
        found = await self.installed(host, limit_s=limit_s)
        if not found and not self.config.packages:
            raise errors.DriverError("dpkg-query listed no installed package")
        return {"packages": found, "scope": self.config.packages}

    async def precheck(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> None:
        # The record itself is the restore point; prove the tools are there to apply it.
        result = await host.run("command -v apt-get dpkg-query", limit_s=limit_s)
        if not result.ok:
            raise errors.PrecheckFailed("apt-get or dpkg-query is missing on the host")

    def steps(self, data: Mapping[str, Any]) -> Mapping[str, recipes.Step]:
        return {"install": self._install}

    def install_script(self, diff: parsing.PackageDiff) -> str:
        words = ["apt-get", "install", "-y", "--allow-downgrades", *_APT_OPTIONS]
        words += [f"{name}={version}" for name, version in diff.install]
        words += [f"{name}-" for name in diff.remove]
        return f"{_APT_ENV} {parsing.quote_all(words)}"

    async def _install(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        diff = parsing.package_diff(data["packages"], await self.installed(host, limit_s=limit_s))
        if diff.empty:
            return "the installed packages already match the restore point"
        result = await host.run(self.install_script(diff), limit_s=limit_s)
        parsing.require_ok(result, what="apt-get install")
        return f"reinstalled {len(diff.install)}, removed {len(diff.remove)}: {diff.describe()}"

    async def verify(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        diff = parsing.package_diff(data["packages"], await self.installed(host, limit_s=limit_s))
        if not diff.empty:
            raise errors.VerificationFailed(
                f"installed packages differ from the restore point: {diff.describe()}"
            )
        return f"{len(data['packages'])} packages match the restore point"


class DnfRecipe(recipes.Stepped):
    kind = "dnf"

    def __init__(self, config: models.DnfRecipe) -> None:
        self.config = config

    def query_script(self) -> str:
        if self.config.packages:
            # rpm -q exits non-zero for each name not installed; those lines are skipped.
            words = ["rpm", "-q", "--qf", parsing.RPM_FORMAT, *self.config.packages]
            return parsing.quote_all(words)
        return parsing.quote_all(["rpm", "-qa", "--qf", parsing.RPM_FORMAT])

    async def installed(self, host: recipes.Host, *, limit_s: float) -> dict[str, list[str]]:
        text = await read_paged(
            host,
            self.query_script(),
            # rpm -q exits with the count of names not installed (up to 255).
            ok_status=255 if self.config.packages else 0,
            what="rpm query",
            limit_s=limit_s,
        )
        return parsing.parse_rpm_qa(text)

    async def last_transaction(self, host: recipes.Host, *, limit_s: float) -> int | None:
        result = await host.run("dnf -q history list", limit_s=limit_s)
        return parsing.parse_dnf_last_transaction(
            parsing.require_ok(result, what="dnf history list")
        )

    async def checkpoint(
        self, host: recipes.Host, *, point_id: str, limit_s: float
    ) -> Mapping[str, Any]:
        transaction = await self.last_transaction(host, limit_s=limit_s)
        if transaction is None:
            raise errors.DriverError(
                "dnf history has no transaction to return to; cannot checkpoint with dnf"
            )
        packages = await self.installed(host, limit_s=limit_s)
        return {"transaction": transaction, "packages": packages, "scope": self.config.packages}

    async def precheck(
        self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float
    ) -> None:
        transaction = int(data["transaction"])
        script = parsing.quote_all(["dnf", "-q", "history", "info", str(transaction)])
        result = await host.run(script, limit_s=limit_s)
        if not result.ok:
            raise errors.PrecheckFailed(
                f"dnf history transaction {transaction} is not known on the host: "
                f"{parsing.tail(result.stderr, lines=3)}"
            )

    def steps(self, data: Mapping[str, Any]) -> Mapping[str, recipes.Step]:
        return {"undo": self._undo}

    async def _undo(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        transaction = int(data["transaction"])
        current = await self.installed(host, limit_s=limit_s)
        if not parsing.rpm_set_diff(data["packages"], current):
            return "the installed packages already match the restore point"
        last = await self.last_transaction(host, limit_s=limit_s)
        if last == transaction:
            # Nothing to undo, yet the set differs: changed outside dnf (rpm -i, another tool).
            raise errors.DriverError(
                f"no dnf transaction after {transaction}, but packages differ from the restore "
                "point: they were changed outside dnf"
            )
        script = parsing.quote_all(["dnf", "-y", "history", "rollback", str(transaction)])
        result = await host.run(script, limit_s=limit_s)
        parsing.require_ok(result, what="dnf history rollback")
        return f"rolled back every dnf transaction after {transaction} (last was {last})"

    async def verify(self, host: recipes.Host, data: Mapping[str, Any], *, limit_s: float) -> str:
        differences = parsing.rpm_set_diff(
            data["packages"], await self.installed(host, limit_s=limit_s)
        )
        if differences:
            more = f" and {len(differences) - 10} more" if len(differences) > 10 else ""
            raise errors.VerificationFailed(
                "installed packages differ from the restore point: "
                + "; ".join(differences[:10])
                + more
            )
        return f"{len(data['packages'])} packages match the restore point"


def make_apt(config: models.AptRecipe) -> AptRecipe:
    return AptRecipe(config)


def make_dnf(config: models.DnfRecipe) -> DnfRecipe:
    return DnfRecipe(config)


def make(config: models.AptRecipe | models.DnfRecipe) -> AptRecipe | DnfRecipe:
    """The recipe for ``config.kind`` ("apt" or "dnf")."""
    if isinstance(config, models.AptRecipe):
        return AptRecipe(config)
    return DnfRecipe(config)


_IMPLEMENTS_APT: recipes.Recipe = AptRecipe(models.AptRecipe(kind="apt"))
_IMPLEMENTS_DNF: recipes.Recipe = DnfRecipe(models.DnfRecipe(kind="dnf"))
