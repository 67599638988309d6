"""`make audit`: known vulnerabilities in the locked Python and npm dependencies.

A script, not a test (pytest collects test_*.py only, and `make test` never runs this):
an advisory published tomorrow must not turn CI red. Run it before a release and when
dependencies change; docs/security-audit.md records each run's results.

- Python: the lock exported (`uv export --frozen --no-hashes`, every group, the project
  itself left out) and audited with `pip-audit -r … --no-deps`. pip-audit runs through
  `uv tool run` at a pinned version instead of sitting in the dev group: it brings ~30
  packages of its own (pip, CycloneDX, …) that would otherwise be resolved together with,
  and could hold back, the application's dependencies; `uv tool run` gives it an
  environment of its own, cached after the first run.
- npm: `npm audit --omit=dev` (what the built dashboard ships) and a full `npm audit`
  (the build and test tooling too) in web/.

Where pip-audit cannot look a package up (it asks PyPI for that exact release), the
package is checked against PyPI's project record, whose `vulnerabilities` are those of
the latest release: that answers for a locked version that is the latest, and for no
other. A dependency nothing could audit is never taken as clean.

Exit status: 0 clean; 1 a finding that ALLOWED does not explain; 2 no unexplained
finding, but some dependency could not be audited (the advisory service was unreachable).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
PIP_AUDIT = "pip-audit==2.10.1"
PYPI_PROJECT = "https://pypi.org/pypi/{name}/json"

ALLOWED: dict[str, str] = {
    # "<advisory id, or one of its aliases>": "why it does not apply to this project",
    # An entry names the advisory, the package, and the reason (the vulnerable function is
    # never called, the package only runs at build time on trusted input, …). An entry that
    # matches no finding any more is reported, to be removed.
}


@dataclass(frozen=True)
class Finding:
    ecosystem: str  # "PyPI" or "npm"
    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...] = ()
    fixed_in: tuple[str, ...] = ()
    summary: str = ""
    scope: str = ""  # npm: "runtime" or "dev"; PyPI: how it was found

    @property
    def ids(self) -> set[str]:
        return {self.advisory, *self.aliases}

    def allowed_by(self) -> str | None:
        return next((i for i in sorted(self.ids) if i in ALLOWED), None)


@dataclass
class Audit:
    findings: list[Finding] = field(default_factory=list)
    unaudited: list[tuple[str, str, str]] = field(default_factory=list)  # ecosystem, what, why
    tools: dict[str, str] = field(default_factory=dict)
    audited: dict[str, int] = field(default_factory=dict)  # ecosystem -> packages checked


def _uv() -> str:
    # `uv run` exports the path of the uv running it; the Makefile's bootstrap is the fallback.
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(REPO / ".tools/bin/uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SystemExit("audit: uv not found (run it through `make audit`)")


def _run(args: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def _locked_requirements(uv: str) -> str:
    result = _run(
        [uv, "export", "--frozen", "--no-hashes", "--no-emit-project", "--all-groups", "-q"]
    )
    if result.returncode != 0:
        raise SystemExit(f"audit: uv export failed:\n{result.stderr}")
    return result.stdout


def _pypi_latest_vulnerabilities(name: str, version: str) -> list[dict[str, Any]] | str:
    """The advisories PyPI lists for `name`'s latest release, if `version` is that release;
    else why this cannot tell."""
    try:
        with urllib.request.urlopen(PYPI_PROJECT.format(name=name), timeout=30) as response:
            record = json.load(response)
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        return f"PyPI project record unavailable ({exc})"
    latest = record.get("info", {}).get("version")
    if latest != version:
        return f"pinned {version} is not the latest release ({latest}), whose advisories PyPI lists"
    return [v for v in record.get("vulnerabilities") or [] if not v.get("withdrawn")]


def audit_python(audit: Audit) -> None:
    uv = _uv()
    audit.tools["uv"] = _run([uv, "--version"]).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        locked = _locked_requirements(uv)
        requirements.write_text(locked)
        output = Path(tmp) / "pip-audit.json"
        tool = _run([uv, "tool", "run", PIP_AUDIT, "--version"])
        audit.tools["pip-audit"] = tool.stdout.strip() or PIP_AUDIT
        result = _run(
            [
                uv, "tool", "run", PIP_AUDIT,
                "-r", str(requirements), "--no-deps", "--disable-pip",
                "--format", "json", "--progress-spinner", "off", "-o", str(output),
            ]
        )  # fmt: skip
        if result.returncode not in (0, 1) or not output.is_file():  # 1: it found something
            audit.unaudited.append(("PyPI", "every package", f"pip-audit failed: {result.stderr}"))
            return
        report = json.loads(output.read_text())
    dependencies = report.get("dependencies", [])
    audit.audited["PyPI"] = len(dependencies)
    for dependency in dependencies:
        name, version = dependency["name"], dependency.get("version", "")
        for vuln in dependency.get("vulns", []):
            audit.findings.append(
                Finding(
                    "PyPI",
                    name,
                    version,
                    vuln["id"],
                    tuple(vuln.get("aliases", [])),
                    tuple(vuln.get("fix_versions", [])),
                    (vuln.get("description") or "")[:200],
                    "pip-audit",
                )
            )
        if "skip_reason" not in dependency:
            continue
        if not version:  # pip-audit leaves it out of a skipped entry: take the lock's pin
            version = _pinned(locked, name)
        answer = _pypi_latest_vulnerabilities(name, version)
        if isinstance(answer, str):
            audit.unaudited.append(("PyPI", f"{name} {version}", answer))
            continue
        for vuln in answer:
            audit.findings.append(
                Finding(
                    "PyPI",
                    name,
                    version,
                    vuln["id"],
                    tuple(vuln.get("aliases", [])),
                    tuple(vuln.get("fixed_in", [])),
                    (vuln.get("summary") or vuln.get("details") or "")[:200],
                    "PyPI project record (latest release)",
                )
            )


def _pinned(requirements: str, name: str) -> str:
    wanted = name.lower().replace("_", "-")
    for line in requirements.splitlines():
        spec = line.split(";")[0].strip()
        if "==" in spec:
            package, _, version = spec.partition("==")
            if package.strip().lower().replace("_", "-") == wanted:
                return version.strip()
    return ""


def _installed_npm_versions(entry: dict[str, Any], lock: dict[str, Any]) -> str:
    """The versions web/package-lock.json installs at the report entry's paths."""
    packages = lock.get("packages", {})
    versions = {str(packages.get(node, {}).get("version", "?")) for node in entry.get("nodes", [])}
    return ",".join(sorted(versions)) or "?"


def _npm_advisories(report: dict[str, Any], scope: str, lock: dict[str, Any]) -> list[Finding]:
    findings = []
    for name, entry in report.get("vulnerabilities", {}).items():
        for via in entry.get("via", []):
            if not isinstance(via, dict):  # a package that is vulnerable through another one
                continue
            url = str(via.get("url", ""))
            advisory = url.rsplit("/", 1)[-1] if "GHSA-" in url else f"npm-{via.get('source')}"
            fix = entry.get("fixAvailable")
            fixed = (f"{fix['name']}@{fix['version']}",) if isinstance(fix, dict) else ()
            findings.append(
                Finding(
                    "npm",
                    name,
                    _installed_npm_versions(entry, lock),
                    advisory,
                    (f"npm-{via.get('source')}",),
                    fixed if fix else (),
                    f"{via.get('severity', '')}: {via.get('title', '')}"[:200],
                    scope,
                )
            )
    return findings


def audit_npm(audit: Audit) -> None:
    npm = shutil.which("npm")
    if npm is None:
        audit.unaudited.append(("npm", "web/", "npm is not installed"))
        return
    audit.tools["npm"] = _run([npm, "--version"], cwd=WEB).stdout.strip()
    lock = json.loads((WEB / "package-lock.json").read_text())
    seen: dict[tuple[str, str], Finding] = {}
    for scope, extra in (("runtime", ["--omit=dev"]), ("dev", [])):
        result = _run([npm, "audit", "--json", *extra], cwd=WEB)
        try:
            report = json.loads(result.stdout or "{}")
        except ValueError:
            report = {}
        if "vulnerabilities" not in report:
            reason = report.get("message") or result.stderr.strip() or "no report"
            label = "npm audit --omit=dev" if extra else "npm audit"
            audit.unaudited.append(("npm", f"web/ ({label})", str(reason)[:300]))
            continue
        total = report.get("metadata", {}).get("dependencies", {}).get("total")
        if isinstance(total, int):
            audit.audited[f"npm ({scope})"] = total
        for finding in _npm_advisories(report, scope, lock):
            seen.setdefault((finding.package, finding.advisory), finding)  # runtime first
    audit.findings.extend(seen.values())


def main() -> int:
    audit = Audit()
    audit_python(audit)
    audit_npm(audit)

    print("Tools: " + ", ".join(f"{k} {v}" for k, v in audit.tools.items()))
    for ecosystem, count in audit.audited.items():
        print(f"{ecosystem}: {count} packages in the report")
    unexplained = []
    for finding in sorted(audit.findings, key=lambda f: (f.ecosystem, f.package, f.advisory)):
        allowed = finding.allowed_by()
        status = f"ALLOWED ({allowed}: {ALLOWED[allowed]})" if allowed else "FINDING"
        fixed = ", ".join(finding.fixed_in) or "no fixed release"
        print(
            f"{status}: {finding.ecosystem} {finding.package} {finding.version} "
            f"{finding.advisory} [{finding.scope}] fixed in: {fixed}; {finding.summary}"
        )
        if not allowed:
            unexplained.append(finding)
    matched = {finding.allowed_by() for finding in audit.findings}
    for stale in sorted(set(ALLOWED) - matched):
        print(f"STALE allow-list entry (matches no finding; remove it): {stale}")
    for ecosystem, what, why in audit.unaudited:
        print(f"NOT AUDITED: {ecosystem} {what}: {why}")

    if unexplained:
        print(f"audit: {len(unexplained)} finding(s) not in the allow-list", file=sys.stderr)
        return 1
    if audit.unaudited:
        print(
            f"audit: no unexplained finding, but {len(audit.unaudited)} could not be audited",
            file=sys.stderr,
        )
        return 2
    print("audit: no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
