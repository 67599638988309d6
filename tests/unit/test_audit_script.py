"""tests/audit.py (`make audit`) without the network: how it reads the tools' reports and
what it exits with. The audit itself is not part of `make test`."""

from typing import Any

import pytest

from tests import audit

NPM_REPORT: dict[str, Any] = {  # the shape of `npm audit --json` (lockfile v3, npm 7+)
    "auditReportVersion": 2,
    "vulnerabilities": {
        "esbuild": {
            "name": "esbuild",
            "severity": "moderate",
            "isDirect": False,
            "via": [
                {
                    "source": 1102341,
                    "name": "esbuild",
                    "title": "esbuild lets any website read the dev server's responses",
                    "url": "https://github.com/advisories/GHSA-67mh-4wv8-2f99",
                    "severity": "moderate",
                    "range": "<=0.24.2",
                }
            ],
            "effects": ["vite"],
            "range": "<=0.24.2",
            "nodes": ["node_modules/esbuild"],
            "fixAvailable": {"name": "vite", "version": "7.1.0", "isSemVerMajor": True},
        },
        "vite": {
            "name": "vite",
            "severity": "moderate",
            "via": ["esbuild"],  # only through esbuild: not an advisory of its own
            "range": "0.11.0 - 6.1.6",
            "nodes": ["node_modules/vite"],
            "fixAvailable": True,
        },
    },
    "metadata": {"dependencies": {"total": 3}},
}
LOCK = {"packages": {"node_modules/esbuild": {"version": "0.21.5"}}}


def test_npm_advisories_are_read_with_their_ghsa_id_and_installed_version():
    findings = audit._npm_advisories(NPM_REPORT, "dev", LOCK)

    assert len(findings) == 1
    finding = findings[0]
    assert (finding.package, finding.version, finding.advisory) == (
        "esbuild",
        "0.21.5",
        "GHSA-67mh-4wv8-2f99",
    )
    assert finding.aliases == ("npm-1102341",)
    assert finding.fixed_in == ("vite@7.1.0",)
    assert finding.scope == "dev"


def test_the_pin_is_read_from_the_exported_lock():
    exported = "# header\nfoo-bar==1.2.3 ; python_full_version >= '3.11'\n    # via x\nbaz==2\n"

    assert audit._pinned(exported, "Foo_Bar") == "1.2.3"
    assert audit._pinned(exported, "baz") == "2"
    assert audit._pinned(exported, "missing") == ""


FINDING = audit.Finding("PyPI", "pkg", "1.0", "PYSEC-2099-1", aliases=("CVE-2099-0001",))


def _run_main(monkeypatch: pytest.MonkeyPatch, result: audit.Audit) -> int:
    def fill_python(found: audit.Audit) -> None:
        found.findings.extend(result.findings)
        found.unaudited.extend(result.unaudited)

    monkeypatch.setattr(audit, "audit_python", fill_python)
    monkeypatch.setattr(audit, "audit_npm", lambda found: None)
    return audit.main()


def test_an_unexplained_finding_fails(monkeypatch):
    assert _run_main(monkeypatch, audit.Audit(findings=[FINDING])) == 1


def test_a_finding_allowed_by_an_alias_passes_and_is_shown(monkeypatch, capsys):
    monkeypatch.setattr(audit, "ALLOWED", {"CVE-2099-0001": "never called here"})

    assert _run_main(monkeypatch, audit.Audit(findings=[FINDING])) == 0
    assert "ALLOWED (CVE-2099-0001: never called here)" in capsys.readouterr().out


def test_what_could_not_be_audited_is_never_clean(monkeypatch, capsys):
    result = audit.Audit(unaudited=[("npm", "web/", "405 from the advisory endpoint")])

    assert _run_main(monkeypatch, result) == 2
    assert "NOT AUDITED: npm web/: 405" in capsys.readouterr().out


def test_a_stale_allow_list_entry_is_reported(monkeypatch, capsys):
    monkeypatch.setattr(audit, "ALLOWED", {"GHSA-gone": "fixed upstream"})

    assert _run_main(monkeypatch, audit.Audit()) == 0
    assert "STALE allow-list entry (matches no finding; remove it): GHSA-gone" in (
        capsys.readouterr().out
    )
