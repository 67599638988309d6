"""The deployment files agree with the code and with each other.

Dockerfile, read into stages by the small parser below (continuation lines, comments,
ARG/ENV expansion, WORKDIR, COPY destinations): the final stage runs as a non-root user,
EXPOSEs the port its Settings listen on, has a HEALTHCHECK that requests a route the app
answers without credentials or a database, and starts (exec form) an HTTP subcommand of
`campaign-dispatch` that exists with options it accepts; its ENV is valid Settings, listens
on every interface and points WEB_DIST_DIR where the dashboard stage's `npm ci` + `npm run
build` output is copied. Python dependencies come from uv.lock (`uv sync --frozen`, no dev
group), the project stays editable (its venv and src/ keep their build-stage paths on the
same base image), and alembic.ini and migrations/ land where campaign_dispatch.db.migrate
looks for them relative to the copied src/. Base images are pinned to a version that
satisfies requires-python and the dashboard's engines.

docker-compose.yml: a service that others wait on with `service_healthy` has a live
healthcheck, one waited on with `service_completed_successfully` does not restart; every
pulled image has a version tag; the DATABASE_URL and AMQP_URL the app services get name a
service of the stack, the port it listens on and its credentials; migrations run (then seed
an empty database) once before the app roles, which wait for a healthy broker; each app
service gets every setting with its default, runs its subcommand, and only the HTTP role
keeps an HTTP healthcheck on the port it publishes; worker and scheduler scale.

.env.example lists exactly the settings with their defaults and no secrets; .dockerignore
keeps every build input and drops local state. Every Dockerfile and compose check is also
run on small defects of the real file, which it must catch, and on harmless rewrites, which
it must accept.

`config` runs with whichever Compose CLI is present: `docker compose` (v2) if it works,
else `docker-compose` (v1, Debian's 1.29.2 in CI); without either that test skips, or
fails under REQUIRE_SERVICES=1 (as CI sets it).
"""

import asyncio
import configparser
import copy
import functools
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import click
import httpx
import pytest
import yaml
from packaging.specifiers import SpecifierSet
from pydantic import ValidationError

from campaign_dispatch.cli import main as cli_main
from campaign_dispatch.config import Settings
from campaign_dispatch.db import migrate
from tests.services import REQUIRED

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
WEB_PACKAGE = json.loads((ROOT / "web/package.json").read_text())

APP_SERVICES = ("api", "worker", "scheduler")
SCALED_SERVICES = ("worker", "scheduler")
ENV_PREFIX = str(Settings.model_config.get("env_prefix") or "").upper()
SETTINGS_VARS = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
# Fixed by docker-compose.yml: inside the stack they point at its own services.
STACK_VARS = {
    ENV_PREFIX + name for name in ("DATABASE_URL", "AMQP_URL", "HOST", "PORT", "WEB_DIST_DIR")
}
# Settings whose compose default deliberately differs from config.py's.
STACK_DEFAULTS = {ENV_PREFIX + "LOG_FORMAT": "json", ENV_PREFIX + "QUEUE_TYPE": "quorum"}
# A server in a container must accept connections from outside it.
ALL_INTERFACES = ("0.0.0.0", "::")
# What `npm run build` reads (vite.config.ts imports tooling/ and reads openapi.json).
WEB_BUILD_INPUTS = (
    "web/package.json",
    "web/package-lock.json",
    "web/index.html",
    "web/src/main.tsx",
    "web/vite.config.ts",
    "web/tsconfig.json",
    "web/openapi.json",
    "web/tooling/apiPrefixes.ts",
)
PROJECT_MARKER = "src/campaign_dispatch/__init__.py"
SCRIPT = next(iter(PYPROJECT["project"]["scripts"]))  # campaign-dispatch


def _settings(environment: Mapping[str, str]) -> Settings:
    """Settings as a process sees them with exactly these variables (and no .env)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in SETTINGS_VARS:
            mp.delenv(name, raising=False)
        for name, value in environment.items():
            if name.upper() in SETTINGS_VARS:
                mp.setenv(name, value)
        try:
            return Settings(_env_file=None)
        except ValidationError as exc:
            raise AssertionError(f"invalid settings {dict(environment)}: {exc}") from exc


def _cli_call(argv: list[str], what: str) -> click.Context:
    """Parse (never run) a `campaign-dispatch <subcommand> ...` command line."""
    assert argv and PurePosixPath(argv[0]).name == SCRIPT, f"{what}: runs {argv}, not {SCRIPT}"
    assert len(argv) > 1 and argv[1] in cli_main.commands, (
        f"{what}: `{' '.join(argv)}`, but the subcommands are {sorted(cli_main.commands)}"
    )
    command = cli_main.commands[argv[1]]
    try:
        return command.make_context(argv[1], list(argv[2:]))
    except click.ClickException as exc:
        raise AssertionError(f"{what}: `{' '.join(argv)}`: {exc.format_message()}") from exc


def _serves_http(call: click.Context) -> bool:
    return any(param.name == "port" for param in call.command.params)


@functools.cache
def _status_without_credentials(path: str) -> int:
    """What GET `path` answers with API keys configured, no credentials and, as a liveness
    probe must do, without the database or the queue (the app's resources never start)."""
    from campaign_dispatch.app import create_app

    app = create_app(_settings({"API_KEYS": "deployment-test-key"}))

    async def probe() -> int:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
            return (await client.get(path)).status_code

    with ThreadPoolExecutor(1) as pool:  # its own event loop, away from pytest-asyncio's
        return pool.submit(asyncio.run, probe()).result()


_URL = re.compile(r"https?://[^/\s'\":]+(?::(?P<port>[^/\s'\"]+))?(?P<path>/[^\s'\"?#)]*)")


def _check_http_probe(text: str, port: int, what: str) -> None:
    urls = list(_URL.finditer(text))
    assert urls, f"{what}: requests no http:// URL: {text}"
    for url in urls:
        path = url["path"]
        status = _status_without_credentials(path)
        assert status == 200, (
            f"{what}: GET {path} answers {status} without credentials or a database"
        )
        given = url["port"]
        if given is None:
            assert port == 80, f"{what}: requests port 80, the app listens on {port}"
        elif given.isdigit():
            assert int(given) == port, f"{what}: requests port {given}, the app listens on {port}"
        else:  # computed, e.g. '%s' % os.environ['PORT']
            assert "PORT" in text, f"{what}: port {given} is not read from PORT"


# --- Dockerfile parser ------------------------------------------------------------------------


def _logical_lines(text: str) -> list[tuple[str, str]]:
    """(raw text, instruction) per instruction, continuations joined and comments dropped;
    comment and blank lines outside instructions come back with an empty instruction."""
    found: list[tuple[str, str]] = []
    raw: list[str] = []
    parts: list[str] = []
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            if parts:
                raw.append(line)  # inside an instruction: skipped, as Docker does
            else:
                found.append((line, ""))
            continue
        raw.append(line)
        body = line.rstrip()
        if body.endswith("\\"):
            parts.append(body[:-1].strip())
            continue
        parts.append(body.strip())
        found.append(("".join(raw), " ".join(parts)))
        raw, parts = [], []
    if parts:
        found.append(("".join(raw), " ".join(parts)))
    return found


_VAR = re.compile(r"\$(?:\{(\w+)(?::?([-+])([^}]*))?\}|(\w+))")


def _expand(value: str, variables: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match[1] or match[4]
        if name not in variables:  # e.g. $PATH, set by the base image: left as written
            return match[3] if match[2] == "-" else match[0]
        if match[2] == "+":
            return match[3] if variables[name] else ""
        if match[2] == "-":
            return variables[name] or match[3]
        return variables[name]

    return _VAR.sub(substitute, value)


def _assignments(args: str) -> list[tuple[str, str | None]]:
    """`ENV A=1 B="x y"`, legacy `ENV A 1`, `ARG A` / `ARG A=1`."""
    words = shlex.split(args)
    if len(words) > 1 and "=" not in words[0]:
        name, _, rest = args.partition(" ")
        return [(name, rest.strip())]
    return [(w.split("=", 1)[0], w.split("=", 1)[1] if "=" in w else None) for w in words]


@dataclass(frozen=True)
class Step:
    index: int
    keyword: str
    args: str
    workdir: str  # WORKDIR in effect
    env: Mapping[str, str]  # the image's ENV before this step
    variables: Mapping[str, str]  # ARG and ENV, for expansion

    @property
    def script(self) -> str:
        """The arguments after the instruction's flags (RUN --mount, COPY --from, ...)."""
        return re.sub(r"^(?:--\S+\s+)*", "", self.args)


@dataclass(frozen=True)
class Copy:
    index: int
    origin: str | None  # --from=<stage or image>; None: the build context
    sources: tuple[str, ...]
    dest: str  # absolute
    into_dir: bool


@dataclass
class Stage:
    index: int
    name: str | None
    base: str
    parent: "Stage | None"
    steps: list[Step] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"

    def chain(self) -> Iterator[Step]:
        """This stage's steps after those of the stage it is built FROM."""
        if self.parent is not None:
            yield from self.parent.chain()
        yield from self.steps

    def last(self, keyword: str) -> Step | None:
        return next((s for s in reversed(list(self.chain())) if s.keyword == keyword), None)

    def runs(self, pattern: str) -> list[Step]:
        return [s for s in self.steps if s.keyword == "RUN" and re.search(pattern, s.args)]

    def root_image(self) -> str:
        return self.parent.root_image() if self.parent is not None else self.base

    def copies(self) -> list[Copy]:
        found = []
        for step in self.steps:
            if step.keyword not in ("COPY", "ADD"):
                continue
            rest = step.script  # the arguments after the --from/--chown/--link flags
            flags = step.args[: len(step.args) - len(rest)]
            words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            words = [_expand(w, step.variables) for w in words]
            origin = next((f[7:] for f in flags.split() if f.startswith("--from=")), None)
            dest = posixpath.normpath(posixpath.join(step.workdir, words[-1]))
            into_dir = (
                words[-1].endswith("/")
                or words[-1] in (".", "..")
                or len(words) > 2
                or dest == step.workdir
            )
            found.append(Copy(step.index, origin, tuple(words[:-1]), dest, into_dir))
        return found


@dataclass
class Dockerfile:
    stages: list[Stage]

    @classmethod
    def parse(cls, text: str) -> "Dockerfile":
        global_args: dict[str, str] = {}
        stages: list[Stage] = []
        for _, line in _logical_lines(text):
            if not line:
                continue
            keyword, _, args = re.sub(r"\s", " ", line, count=1).partition(" ")
            keyword, args = keyword.upper(), args.strip()
            if keyword == "FROM":
                words = [w for w in args.split() if not w.startswith("--")]
                base = _expand(words[0], global_args)
                name = words[2].lower() if len(words) > 2 and words[1].upper() == "AS" else None
                parent = next((s for s in stages if s.name == base.lower()), None)
                stage = Stage(len(stages), name, base, parent)
                if parent is not None:
                    stage.env, stage.workdir = dict(parent.env), parent.workdir
                    stage.variables = dict(parent.env)
                stages.append(stage)
                continue
            if not stages:
                assert keyword == "ARG", f"only ARG may come before the first FROM: {line}"
                for name, value in _assignments(args):
                    global_args[name] = _expand(value or "", global_args)
                continue
            stage = stages[-1]
            stage.steps.append(
                Step(
                    len(stage.steps),
                    keyword,
                    args,
                    stage.workdir,
                    dict(stage.env),
                    dict(stage.variables),
                )
            )
            if keyword == "ARG":
                for name, value in _assignments(args):
                    default = global_args.get(name, "") if value is None else value
                    stage.variables[name] = _expand(default, stage.variables)
            elif keyword == "ENV":
                values = {n: _expand(v or "", stage.variables) for n, v in _assignments(args)}
                stage.env.update(values)
                stage.variables.update(values)
            elif keyword == "WORKDIR":
                path = _expand(args, stage.variables)
                stage.workdir = posixpath.normpath(posixpath.join(stage.workdir, path))
        assert stages, "no FROM"
        return cls(stages)

    @property
    def final(self) -> Stage:
        """What `docker build` (and compose, which sets no target) makes."""
        return self.stages[-1]

    def stage(self, ref: str | None) -> Stage | None:
        if ref is None:
            return None
        return next((s for s in self.stages if s.name == ref.lower() or str(s.index) == ref), None)

    def where(
        self, stage: Stage, path: str, origin: Stage | None = None, before: int | None = None
    ) -> str | None:
        """Where `path` (a file of the build context, or of stage `origin`) is in `stage`,
        after its COPY/ADD instructions (those before step `before`): the last one wins."""
        found = None
        for instruction in stage.copies():
            if before is not None and instruction.index >= before:
                break
            from_stage = self.stage(instruction.origin)
            if instruction.origin is not None and from_stage is None:
                continue  # --from an external image
            if from_stage is not origin:
                continue
            for source in instruction.sources:
                target = _copy_target(source, path, instruction, context=origin is None)
                found = target or found
        if found is None and stage.parent is not None:
            if origin is not None and origin is stage.parent:
                return path
            return self.where(stage.parent, path, origin)
        return found


def _copy_target(source: str, path: str, instruction: Copy, *, context: bool) -> str | None:
    if context:
        source = posixpath.normpath(source.lstrip("/") or ".")
        is_dir = source == "." or (ROOT / source).is_dir()
    else:
        source = posixpath.normpath(posixpath.join("/", source))
        is_dir = path != source
    if any(c in source for c in "*?["):
        if not fnmatchcase(path, source) or path.count("/") != source.count("/"):
            return None
        return posixpath.join(instruction.dest, posixpath.basename(path))
    if path == source and not is_dir:
        if instruction.into_dir:
            return posixpath.join(instruction.dest, posixpath.basename(path))
        return instruction.dest
    if is_dir and (source == "." or path.startswith(source + "/")):
        relative = path if source == "." else path[len(source) + 1 :]
        return posixpath.join(instruction.dest, relative)
    return None


def _exec_form(step: Step, what: str) -> list[str]:
    assert step.args.startswith("["), (
        f"{what} in exec form (JSON): in shell form `sh -c` is PID 1 and SIGTERM may "
        "never reach campaign-dispatch, which drains on it"
    )
    argv: list[str] = json.loads(step.args)
    return argv


def _image_tag(image: str) -> str | None:
    """The tag of `repo[:tag][@digest]`, '@...' for a digest, None if neither."""
    if "@" in image:
        return "@" + image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _image_version(image: str) -> tuple[int, ...]:
    match = re.match(r"(\d+(?:\.\d+)*)", _image_tag(image) or "")
    assert match, f"{image}: no version in its tag"
    return tuple(int(part) for part in match[1].split("."))


# --- Dockerfile: what the checks need from it --------------------------------------------------


def _image_settings(df: Dockerfile) -> Settings:
    env = df.final.env
    unresolved = {k: v for k, v in env.items() if k.upper() in SETTINGS_VARS and "$" in v}
    assert unresolved == {}, "settings in the image must not depend on build-time variables"
    return _settings(env)


def _dashboard_build(df: Dockerfile) -> tuple[Stage, Step]:
    for stage in df.stages:
        builds = stage.runs(r"\bnpm\s+run(?:-script)?\s+build\b")
        if builds:
            return stage, builds[-1]
    raise AssertionError("no stage runs `npm run build`: the image would have no dashboard")


def _vite_out_dir() -> str:
    match = re.search(r"outDir:\s*[\"']([^\"']+)[\"']", (ROOT / "web/vite.config.ts").read_text())
    return match[1] if match else "dist"  # Vite's default


def _dashboard_in_image(df: Dockerfile) -> str:
    stage, build = _dashboard_build(df)
    built = posixpath.join(build.workdir, _vite_out_dir(), "index.html")
    landed = df.where(df.final, built, origin=stage)
    assert landed, f"the final stage copies nothing of {built} (stage {stage.name or stage.index})"
    return posixpath.dirname(landed)


def _shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell-form RUN, split at `&&`, `||`, `;` and `|`."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in ("&&", "||", ";", "|", "&"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def _uv_syncs(df: Dockerfile) -> list[tuple[Stage, Step, list[str]]]:
    found = []
    for stage in df.stages:
        for step in stage.runs(r"\buv\s+sync\b"):
            for words in _shell_commands(step.script):
                if words[:2] == ["uv", "sync"]:
                    found.append((stage, step, words))
    return found


def _project_install(df: Dockerfile) -> tuple[Stage, Step, str]:
    """The `uv sync` that installs the project itself, and the venv it fills."""
    installs = [(st, sp) for st, sp, words in _uv_syncs(df) if "--no-install-project" not in words]
    assert installs, "no `uv sync` installs the project (its `campaign-dispatch` script)"
    stage, step = installs[-1]
    venv = step.env.get("UV_PROJECT_ENVIRONMENT") or ".venv"
    return stage, step, posixpath.normpath(posixpath.join(step.workdir, venv))


def _truthy(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").lower() in ("1", "true", "yes", "on")


# --- Dockerfile checks (each one a test below, and run on defects and rewrites) -----------------


def check_user(df: Dockerfile) -> None:
    user = df.final.last("USER")
    assert user, "the final stage sets no USER: the app would run as root"
    name = _expand(user.args, user.variables).split(":")[0]
    assert name not in ("root", "0"), f"the final stage runs as {name}"
    if not name.isdigit():
        creates = rf"\b(useradd|adduser)\b.*\b{re.escape(name)}\b"
        created = [s for s in df.final.chain() if re.search(creates, s.args)]
        assert created, f"USER {name}, but no RUN creates that user"


def check_expose(df: Dockerfile) -> None:
    port = _image_settings(df).port
    exposed = {
        int(_expand(word, step.variables).split("/")[0])
        for step in df.final.chain()
        if step.keyword == "EXPOSE"
        for word in step.args.split()
    }
    assert port in exposed, f"the API listens on {port} (PORT), the image exposes {exposed}"


def check_healthcheck(df: Dockerfile) -> None:
    step = df.final.last("HEALTHCHECK")
    assert step, "the final stage has no HEALTHCHECK"
    match = re.fullmatch(r"((?:--\S+\s+)*)CMD\s+(.*)", step.args, re.IGNORECASE | re.DOTALL)
    assert match, f"HEALTHCHECK {step.args}: disabled or not a CMD"
    probe = match[2]
    argv = json.loads(probe) if probe.startswith("[") else shlex.split(probe)
    _check_http_probe(" ".join(argv), _image_settings(df).port, "the image's HEALTHCHECK")
    if argv[0] in ("curl", "wget"):
        installs = df.final.runs(rf"\binstall\b.*\b{argv[0]}\b")
        assert installs, f"the HEALTHCHECK runs {argv[0]}, which the image never installs"


def check_default_command(df: Dockerfile) -> None:
    entrypoint, command = df.final.last("ENTRYPOINT"), df.final.last("CMD")
    argv = [
        *(_exec_form(entrypoint, "ENTRYPOINT") if entrypoint else []),
        *(_exec_form(command, "CMD") if command else []),
    ]
    call = _cli_call(argv, "the image's default command")
    assert _serves_http(call), (
        f"the default `{' '.join(argv)}` serves no HTTP, but the HEALTHCHECK probes HTTP"
    )
    stage, _, venv = _project_install(df)
    script = df.where(df.final, f"{venv}/bin/{SCRIPT}", origin=stage)
    assert script, f"the final stage lacks the venv of stage {stage.name or stage.index}"
    if "/" in argv[0]:
        assert argv[0] == script
    else:
        path = df.final.env.get("PATH", "").split(":")
        assert posixpath.dirname(script) in path, f"{SCRIPT} is in {script}, not on PATH {path}"


def check_settings_env(df: Dockerfile) -> None:
    settings = _image_settings(df)
    assert settings.host in ALL_INTERFACES, f"HOST={settings.host}: unreachable from outside"
    assert str(settings.web_dist_dir) == _dashboard_in_image(df), (
        f"WEB_DIST_DIR={settings.web_dist_dir}, the dashboard is at {_dashboard_in_image(df)}"
    )


def check_dashboard_build(df: Dockerfile) -> None:
    stage, build = _dashboard_build(df)
    installs = [s for s in stage.runs(r"\bnpm\s+(ci|clean-install)\b") if s.index < build.index]
    assert installs, "the dashboard's dependencies come from package-lock.json: `npm ci`"
    install = installs[0]
    for name in ("web/package.json", "web/package-lock.json"):
        expected = posixpath.join(install.workdir, PurePosixPath(name).name)
        found = df.where(stage, name, before=install.index)
        assert found == expected, f"`npm ci` runs in {install.workdir}; {name} is at {found}"
    for name in WEB_BUILD_INPUTS:
        expected = posixpath.join(build.workdir, name.removeprefix("web/"))
        found = df.where(stage, name, before=build.index)
        assert found == expected, f"`npm run build` runs in {build.workdir}; {name} is at {found}"
    assert "build" in WEB_PACKAGE["scripts"]
    _dashboard_in_image(df)
    engines = WEB_PACKAGE.get("engines", {}).get("node", ">=0")
    needed = re.search(r">=\s*(\d+)", engines)
    has = _image_version(stage.root_image())
    assert needed and has[0] >= int(needed[1]), f"{stage.root_image()}: web needs node {engines}"


def check_python_env(df: Dockerfile) -> None:
    syncs = _uv_syncs(df)
    assert syncs, "Python dependencies come from uv.lock: `uv sync`"
    for stage, step, words in syncs:
        command = " ".join(words)
        locked = {"--frozen", "--locked"} & set(words) or any(
            _truthy(step.env, name) for name in ("UV_FROZEN", "UV_LOCKED")
        )
        assert locked, f"`{command}` may resolve anew instead of installing uv.lock"
        assert "--no-dev" in words or _truthy(step.env, "UV_NO_DEV"), f"`{command}`: dev group"
        assert "--all-groups" not in words and "--dev" not in words, command
        # Non-editable, the package lands in site-packages and migrate.ALEMBIC_INI
        # (parents[3] of migrate.py) points into the venv.
        assert "--no-editable" not in words and not _truthy(step.env, "UV_NO_EDITABLE"), command
        for name in ("pyproject.toml", "uv.lock"):
            found = df.where(stage, name, before=step.index)
            assert found == posixpath.join(step.workdir, name), f"`{command}`: {name} at {found}"
    for stage in df.stages:
        for step in stage.runs(r"\bpip\s+install\b"):
            assert not re.search(r"\binstall\b(?:\s+-\S+)*\s+\.(\s|$)", step.args), (
                f"`{step.args}` installs the project non-editably"
            )
    stage, step, _ = _project_install(df)
    readme = PYPROJECT["project"].get("readme")
    readme = readme.get("file") if isinstance(readme, dict) else readme
    for name in (n for n in ("pyproject.toml", readme, PROJECT_MARKER) if n):
        found = df.where(stage, name, before=step.index)
        assert found == posixpath.join(step.workdir, name), f"installing the project: {name}"


def check_venv_reaches_runtime(df: Dockerfile) -> None:
    """The venv's scripts name its python by absolute path, and the editable install's .pth
    names src/ by absolute path: both must keep their build-stage paths, on the same base."""
    stage, step, venv = _project_install(df)
    script = f"{venv}/bin/{SCRIPT}"
    landed = df.where(df.final, script, origin=stage)
    assert landed == script, f"the venv moved: {script} is at {landed} in the final stage"
    built = df.where(stage, PROJECT_MARKER, before=step.index)
    final = df.where(df.final, PROJECT_MARKER)
    assert final == built, f"installed editable from {built}, but the image has it at {final}"
    assert stage.root_image() == df.final.root_image(), "the venv's python is another image's"


def check_python_version(df: Dockerfile) -> None:
    _, step, _ = _project_install(df)
    image = df.final.root_image()
    version = ".".join(map(str, _image_version(image)[:2]))
    required = PYPROJECT["project"]["requires-python"]
    assert SpecifierSet(required).contains(version), f"{image}: the project needs {required}"
    pinned = re.search(r"python(\d+\.\d+)", step.env.get("UV_PYTHON", ""))
    assert not pinned or pinned[1] == version, f"UV_PYTHON {pinned and pinned[0]} on {image}"


def check_migrations_layout(df: Dockerfile) -> None:
    module = Path(migrate.__file__).resolve()
    in_image = df.where(df.final, module.relative_to(ROOT).as_posix())
    assert in_image, f"the final stage has no {module.relative_to(ROOT)}"
    # ALEMBIC_INI is computed from migrate.py's own path: the same relation in the image.
    relation = os.path.relpath(migrate.ALEMBIC_INI, module.parent)
    ini = posixpath.normpath(posixpath.join(posixpath.dirname(in_image), relation))
    found = df.where(df.final, migrate.ALEMBIC_INI.relative_to(ROOT).as_posix())
    assert found == ini, f"migrate.py at {in_image} reads {ini}; alembic.ini is at {found}"
    config = configparser.ConfigParser(interpolation=None)
    config.read(migrate.ALEMBIC_INI)
    location = config["alembic"]["script_location"].replace("%(here)s", ".")
    scripts = (migrate.ALEMBIC_INI.parent / location).resolve()
    needed = [scripts / "env.py", scripts / "script.py.mako", *(scripts / "versions").glob("*.py")]
    for path in needed:
        relative = os.path.relpath(path, migrate.ALEMBIC_INI.parent)
        expected = posixpath.normpath(posixpath.join(posixpath.dirname(ini), relative))
        found = df.where(df.final, path.relative_to(ROOT).as_posix())
        assert found == expected, f"alembic looks for {expected}; it is at {found}"


def check_base_images_pinned(df: Dockerfile) -> None:
    for stage in df.stages:
        if stage.parent is not None or stage.base == "scratch":
            continue
        tag = _image_tag(stage.base)
        assert "$" not in stage.base, f"FROM {stage.base}: an ARG without a default"
        assert tag and tag != "latest", f"FROM {stage.base}: pin at least a major version"
        assert tag.startswith("@") or tag[0].isdigit(), f"FROM {stage.base}: no version"


DOCKERFILE_CHECKS = (
    check_user,
    check_expose,
    check_healthcheck,
    check_default_command,
    check_settings_env,
    check_dashboard_build,
    check_python_env,
    check_venv_reaches_runtime,
    check_python_version,
    check_migrations_layout,
    check_base_images_pinned,
)


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return Dockerfile.parse(DOCKERFILE.read_text())


@pytest.mark.parametrize("check", DOCKERFILE_CHECKS, ids=lambda c: c.__name__)
def test_dockerfile(dockerfile: Dockerfile, check: Callable[[Dockerfile], None]) -> None:
    check(dockerfile)


def test_the_parser_reads_the_dockerfile(dockerfile: Dockerfile) -> None:
    """Guards the checks above against a parser that sees too little (cheap invariants)."""
    assert len(dockerfile.stages) >= 2
    assert all(s.steps for s in dockerfile.stages)
    assert not any("\\" in s.args.rstrip()[-1:] for st in dockerfile.stages for s in st.steps)
    assert Path(migrate.__file__).resolve() == ROOT / "src/campaign_dispatch/db/migrate.py"
    assert migrate.ALEMBIC_INI.is_file()


# Small defects of the real Dockerfile, each of which its check must catch. Appending an
# instruction overrides the earlier one, so most defects survive a rewrite of the file.
def _append(line: str | Callable[[Dockerfile], str]) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        added = line if isinstance(line, str) else line(Dockerfile.parse(text))
        return text.rstrip("\n") + "\n" + added + "\n"

    return mutate


def _sub(pattern: str, replacement: str) -> Callable[[str], str]:
    return lambda text: re.sub(pattern, replacement, text, flags=re.MULTILINE)


def _drop(pattern: str) -> Callable[[str], str]:
    """Remove every instruction matching `pattern` (continuation lines joined)."""
    return lambda text: "".join(
        raw for raw, line in _logical_lines(text) if not (line and re.search(pattern, line))
    )


def _probe(url: str) -> str:
    code = f"import urllib.request; urllib.request.urlopen('{url}', timeout=4)"
    return "HEALTHCHECK CMD " + json.dumps(["python", "-c", code])


def _other_venv(df: Dockerfile) -> str:
    stage, _, venv = _project_install(df)
    return f"COPY --from={stage.name or stage.index} {venv} /opt/venv"


DOCKERFILE_DEFECTS = [
    pytest.param(_append("USER root"), check_user, id="runs-as-root"),
    pytest.param(_append("USER appuser"), check_user, id="user-never-created"),
    pytest.param(_append("ENV PORT=9000"), check_expose, id="listens-on-unexposed-port"),
    pytest.param(_append("HEALTHCHECK NONE"), check_healthcheck, id="healthcheck-disabled"),
    pytest.param(
        _append(_probe("http://127.0.0.1:8000/healthz")), check_healthcheck, id="probe-404"
    ),
    pytest.param(
        _append(_probe("http://127.0.0.1:8000/campaigns")), check_healthcheck, id="probe-401"
    ),
    pytest.param(
        _append(_probe("http://127.0.0.1:9000/health")), check_healthcheck, id="probe-wrong-port"
    ),
    pytest.param(
        _append("HEALTHCHECK CMD curl -f http://127.0.0.1:8000/health"),
        check_healthcheck,
        id="probe-without-curl",
    ),
    pytest.param(
        _append('CMD ["campaign-dispatch", "web"]'), check_default_command, id="no-such-subcommand"
    ),
    pytest.param(
        _append('CMD ["campaign-dispatch", "api", "--prot", "8000"]'),
        check_default_command,
        id="no-such-option",
    ),
    pytest.param(
        _append('CMD ["campaign-dispatch", "worker"]'), check_default_command, id="no-http-default"
    ),
    pytest.param(_append("CMD campaign-dispatch api"), check_default_command, id="shell-form"),
    pytest.param(_append("ENV PATH=/usr/bin:/bin"), check_default_command, id="venv-off-path"),
    pytest.param(_append("ENV MAX_RETRIES=lots"), check_settings_env, id="invalid-setting"),
    pytest.param(_append("ENV WEB_DIST_DIR=/app/static"), check_settings_env, id="no-dashboard"),
    pytest.param(_append("ENV HOST=127.0.0.1"), check_settings_env, id="loopback-only"),
    pytest.param(_drop(r"^COPY\b.*\bdist\b"), check_settings_env, id="dashboard-not-copied"),
    pytest.param(_sub(r"\bnpm ci\b", "npm install"), check_dashboard_build, id="npm-install"),
    pytest.param(_drop(r"\bnpm\s+run\s+build\b"), check_dashboard_build, id="no-web-build"),
    pytest.param(_sub(r"^FROM \S+", "FROM node:18-slim"), check_dashboard_build, id="old-node"),
    pytest.param(_sub(r"\s--(frozen|locked)\b", ""), check_python_env, id="unlocked"),
    pytest.param(_sub(r"\s--no-dev\b", ""), check_python_env, id="dev-group"),
    pytest.param(
        _sub(r"\buv sync\b", "uv sync --no-editable"), check_python_env, id="non-editable"
    ),
    pytest.param(_drop(r"^COPY\b.*\bREADME"), check_python_env, id="readme-missing"),
    pytest.param(_drop(r"^COPY\b.*\buv\.lock\b"), check_python_env, id="lock-missing"),
    pytest.param(_append(_other_venv), check_venv_reaches_runtime, id="venv-moved"),
    pytest.param(_append("COPY src/ /opt/src/"), check_venv_reaches_runtime, id="src-moved"),
    pytest.param(_sub(r"python:3\.\d+", "python:3.10"), check_python_version, id="python-too-old"),
    pytest.param(
        _append("COPY alembic.ini /etc/alembic.ini"), check_migrations_layout, id="ini-elsewhere"
    ),
    pytest.param(_drop(r"^COPY\b.*\bmigrations\b"), check_migrations_layout, id="no-migrations"),
    pytest.param(_append("COPY src/ /opt/src/"), check_migrations_layout, id="ini-not-beside-src"),
    pytest.param(_sub(r"^FROM \S+", "FROM node"), check_base_images_pinned, id="bare-image"),
    pytest.param(_sub(r"^FROM \S+", "FROM node:latest"), check_base_images_pinned, id="latest"),
]


@pytest.mark.parametrize(("mutate", "check"), DOCKERFILE_DEFECTS)
def test_dockerfile_checks_catch_a_defect(
    mutate: Callable[[str], str], check: Callable[[Dockerfile], None]
) -> None:
    text = DOCKERFILE.read_text()
    mutated = mutate(text)
    assert mutated != text, "this defect no longer applies to the Dockerfile: adapt it"
    with pytest.raises(AssertionError):
        check(Dockerfile.parse(mutated))


def _split_env(text: str) -> str:
    """One ENV instruction per variable, every continuation joined onto one line."""
    lines = []
    for raw, line in _logical_lines(text):
        if line.upper().startswith("ENV "):
            pairs = _assignments(line[4:])
            lines += [f'ENV {name}="{value}"\n' for name, value in pairs]
        else:
            lines.append(line + "\n" if line else raw)
    return "".join(lines)


def _rename_stages(text: str) -> str:
    for stage in Dockerfile.parse(text).stages:
        if stage.name:
            pattern = rf"(?i)(\bAS\s+|--from=){re.escape(stage.name)}\b"
            text = re.sub(pattern, rf"\g<1>{stage.name}-renamed", text)
    return text


DOCKERFILE_REWRITES = [
    pytest.param(_split_env, id="env-per-line-no-continuations"),
    pytest.param(_rename_stages, id="stages-renamed"),
    pytest.param(_append('ENTRYPOINT ["campaign-dispatch"]\nCMD ["api"]'), id="entrypoint"),
    pytest.param(_append("ENV PORT=9000\nEXPOSE 9000/tcp"), id="other-port"),
    pytest.param(_append("USER app:app"), id="named-user"),
    pytest.param(
        _append("WORKDIR /srv\nCOPY alembic.ini /app/alembic.ini\nCOPY migrations /app/migrations"),
        id="absolute-destinations",
    ),
    pytest.param(_sub(r"node:\d+", "node:22"), id="newer-node"),
]


@pytest.mark.parametrize("rewrite", DOCKERFILE_REWRITES)
def test_dockerfile_checks_accept_a_harmless_rewrite(rewrite: Callable[[str], str]) -> None:
    rewritten = Dockerfile.parse(rewrite(DOCKERFILE.read_text()))
    for check in DOCKERFILE_CHECKS:
        check(rewritten)


# --- docker-compose.yml -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


_INTERPOLATION = re.compile(r"\$\$|\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)")


def _interpolate(value: object) -> str:
    """What compose makes of a value with no .env and nothing exported: the defaults."""
    return _INTERPOLATION.sub(lambda m: "$" if m[0] == "$$" else m[2] or "", str(value))


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment if "=" in item)
    return {k: _interpolate(v) for k, v in environment.items() if v is not None}


def _conditions(service: dict[str, Any]) -> dict[str, str]:
    depends_on = service.get("depends_on") or {}
    assert isinstance(depends_on, dict), "depends_on needs the long syntax, with conditions"
    return {name: spec.get("condition", "service_started") for name, spec in depends_on.items()}


def _container_ports(service: dict[str, Any]) -> set[int]:
    ports = set()
    for port in service.get("ports", []):
        target = port["target"] if isinstance(port, dict) else str(port).rsplit(":", 1)[-1]
        ports.add(int(str(target).split("/")[0]))
    return ports


def _command(service: dict[str, Any]) -> str:
    command = service.get("command")
    return command if isinstance(command, str) else " ".join(command or [])


def _argv(service: dict[str, Any], df: Dockerfile) -> list[str]:
    command = service.get("command")
    if command is None:  # the image's
        steps = (df.final.last("ENTRYPOINT"), df.final.last("CMD"))
        return [word for step in steps if step for word in _exec_form(step, step.keyword)]
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _cli_calls(name: str, service: dict[str, Any], df: Dockerfile) -> list[click.Context]:
    """The `campaign-dispatch` calls a service makes: one, or a `sh -c 'a && b'` chain."""
    argv = _argv(service, df)
    if len(argv) == 3 and PurePosixPath(argv[0]).name in ("sh", "bash") and argv[1] == "-c":
        lexer = shlex.shlex(argv[2], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        operators = {t for t in tokens if t[0] in "();<>|&"}
        assert operators <= {"&&"}, f"{name}: chain with && only, so a failed step stops it"
        return [_cli_call(shlex.split(part), name) for part in argv[2].split("&&")]
    return [_cli_call(argv, name)]


def _built(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the image of the Dockerfile."""
    return {n: s for n, s in compose["services"].items() if "build" in s}


def _healthcheck(service: dict[str, Any], df: Dockerfile) -> list[str] | None:
    """The test a service's container runs for its health, None if it has none."""
    healthcheck = service.get("healthcheck")
    if healthcheck is not None and healthcheck.get("disable"):
        return None
    test = (healthcheck or {}).get("test")
    if test is None:  # the image's own HEALTHCHECK, for the image we build
        step = df.final.last("HEALTHCHECK") if "build" in service else None
        if step is None or step.args.upper().startswith("NONE"):
            return None
        probe = re.sub(r"^(?:--\S+\s+)*CMD\s+", "", step.args, flags=re.IGNORECASE)
        return json.loads(probe) if probe.startswith("[") else ["CMD-SHELL", probe]
    argv = ["CMD-SHELL", test] if isinstance(test, str) else [str(t) for t in test]
    if not argv or argv[0] == "NONE":
        return None
    return [_interpolate(word) for word in argv]


def _server(compose: dict[str, Any], url: str, what: str) -> tuple[str, dict[str, Any]]:
    host = urlsplit(url).hostname
    assert host and host in compose["services"], f"{what} names host {host}: not in the stack"
    return host, compose["services"][host]


def _listen(service: dict[str, Any]) -> tuple[int, str, str, str | None]:
    """(port, user, password, database) a PostgreSQL or RabbitMQ container starts with."""
    image = _interpolate(service["image"]).split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    env = _environment(service)
    command = _command(service)
    if image == "postgres":
        port = re.search(r"(?:-p\s*|\bport=)(\d+)", command)
        user = env.get("POSTGRES_USER") or "postgres"
        number = int(port[1]) if port else int(env.get("PGPORT") or 5432)
        return number, user, env.get("POSTGRES_PASSWORD", ""), env.get("POSTGRES_DB") or user
    if image == "rabbitmq":
        user = env.get("RABBITMQ_DEFAULT_USER") or "guest"
        password = env.get("RABBITMQ_DEFAULT_PASS") or "guest"
        return int(env.get("RABBITMQ_NODE_PORT") or 5672), user, password, None
    raise AssertionError(f"{image}: no rule for the port and credentials of this server")


# --- compose checks ---------------------------------------------------------------------------


def check_waited_on_services(compose: dict[str, Any], df: Dockerfile) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in _conditions(service).items():
            assert dependency in services, f"{name} waits on {dependency}, not in the stack"
            other = services[dependency]
            if condition == "service_healthy":
                assert _healthcheck(other, df), (
                    f"{name} waits for {dependency} to be healthy: it has no live healthcheck"
                )
            if condition == "service_completed_successfully":
                restart = str(other.get("restart", "no"))
                assert restart == "no" or restart.startswith("on-failure"), (
                    f"{name} waits for {dependency} to complete, which has restart: {restart}"
                )


def check_images_pinned(compose: dict[str, Any], df: Dockerfile) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            continue
        image = _interpolate(service.get("image", ""))
        tag = _image_tag(image)
        assert tag and tag != "latest", f"{name}: {image!r}, pin at least a major version"
        assert tag.startswith("@") or tag[0].isdigit(), f"{name}: {image!r} has no version"


def check_stack_urls(compose: dict[str, Any], df: Dockerfile) -> None:
    for name, service in _built(compose).items():
        env = _environment(service)
        for variable, scheme_port in (("DATABASE_URL", 5432), ("AMQP_URL", 5672)):
            url = urlsplit(env[variable])
            host, server = _server(compose, env[variable], f"{name}: {variable}")
            port, user, password, database = _listen(server)
            what = f"{name}: {variable} for {host}"
            assert (url.port or scheme_port) == port, (
                f"{what}: port {url.port}, it listens on {port}"
            )
            assert unquote(url.username or "") == user, f"{what}: user {url.username}, not {user}"
            assert unquote(url.password or "") == password, f"{what}: not {host}'s password"
            if database is not None:
                assert url.path.lstrip("/") == database, f"{what}: database {url.path}"
            else:
                assert user != "guest", f"{what}: RabbitMQ's guest user may only connect locally"


def check_app_services(compose: dict[str, Any], df: Dockerfile) -> None:
    built = _built(compose)
    assert set(APP_SERVICES) <= set(built), f"app roles built from the image: {sorted(built)}"
    for name, service in built.items():
        env = _environment(service)
        assert sorted(SETTINGS_VARS - set(env)) == [], f"{name}: settings it does not get"
        settings = _settings(env)
        assert settings.is_postgres, f"{name}: the stack's processes share one PostgreSQL"
        assert settings.amqp_url, f"{name}: api, worker and scheduler refuse to run without AMQP"
        assert settings.host in ALL_INTERFACES, f"{name}: HOST={settings.host}"
        assert str(settings.web_dist_dir) == _dashboard_in_image(df), f"{name}: WEB_DIST_DIR"


def check_roles(compose: dict[str, Any], df: Dockerfile) -> None:
    for name in APP_SERVICES:
        calls = _cli_calls(name, compose["services"][name], df)
        roles = [c.info_name for c in calls]
        assert roles == [name], f"service {name} runs the subcommands {roles}"


def check_migrations_first(compose: dict[str, Any], df: Dockerfile) -> None:
    built = _built(compose)
    calls = {name: _cli_calls(name, service, df) for name, service in built.items()}
    migrators = [n for n, cs in calls.items() if any(c.info_name == "migrate" for c in cs)]
    assert len(migrators) == 1, f"one service runs the migrations, not {migrators}"
    migrator = migrators[0]
    steps = [c.info_name for c in calls[migrator]]
    assert "seed" in steps and steps.index("seed") > steps.index("migrate"), steps
    seed = calls[migrator][steps.index("seed")]
    assert seed.params["if_empty"], "seed every start would duplicate the data: --if-empty"
    env = _environment(built[migrator])
    database, _ = _server(compose, env["DATABASE_URL"], migrator)
    broker, _ = _server(compose, env["AMQP_URL"], migrator)
    assert _conditions(built[migrator]).get(database) == "service_healthy"
    for name in set(built) - {migrator}:
        conditions = _conditions(built[name])
        assert conditions.get(migrator) == "service_completed_successfully", name
        assert conditions.get(broker) == "service_healthy", f"{name} starts before {broker}"


def check_health_matches_role(compose: dict[str, Any], df: Dockerfile) -> None:
    for name, service in _built(compose).items():
        http = any(_serves_http(call) for call in _cli_calls(name, service, df))
        test = _healthcheck(service, df)
        settings = _settings(_environment(service))
        if http:
            assert test, f"{name} serves HTTP: it needs its healthcheck"
            _check_http_probe(" ".join(test), settings.port, f"{name}'s healthcheck")
            ports = _container_ports(service)
            assert ports <= {settings.port}, f"{name} publishes {ports}, listens on {settings.port}"
        else:
            assert not (test and "http://" in " ".join(test)), (
                f"{name} serves no HTTP, yet its healthcheck probes it: always unhealthy"
            )


def check_scaling(compose: dict[str, Any], df: Dockerfile) -> None:
    for name in SCALED_SERVICES:
        service = compose["services"][name]
        assert "container_name" not in service, f"`--scale {name}=3` needs no container_name"
        assert not service.get("ports"), f"`--scale {name}=3` needs no published ports"


COMPOSE_CHECKS = (
    check_waited_on_services,
    check_images_pinned,
    check_stack_urls,
    check_app_services,
    check_roles,
    check_migrations_first,
    check_health_matches_role,
    check_scaling,
)


@pytest.mark.parametrize("check", COMPOSE_CHECKS, ids=lambda c: c.__name__)
def test_compose(
    compose: dict[str, Any],
    dockerfile: Dockerfile,
    check: Callable[[dict[str, Any], Dockerfile], None],
) -> None:
    check(compose, dockerfile)


def _db(compose: dict[str, Any]) -> str:
    return _server(compose, _environment(compose["services"]["api"])["DATABASE_URL"], "api")[0]


def _broker(compose: dict[str, Any]) -> str:
    return _server(compose, _environment(compose["services"]["api"])["AMQP_URL"], "api")[0]


def _set(where: Callable[[dict[str, Any]], str], key: str, value: Any) -> Callable[..., None]:
    def mutate(compose: dict[str, Any]) -> None:
        compose["services"][where(compose)][key] = value

    return mutate


def _set_env(where: Callable[[dict[str, Any]], str], name: str, value: str) -> Callable[..., None]:
    def mutate(compose: dict[str, Any]) -> None:
        service = compose["services"][where(compose)]
        service["environment"] = {**_environment(service), name: value}

    return mutate


def _depends(
    service: str, on: Callable[[dict[str, Any]], str], condition: str | None
) -> Callable[..., None]:
    def mutate(compose: dict[str, Any]) -> None:
        depends_on = dict(compose["services"][service]["depends_on"])
        if condition is None:
            depends_on.pop(on(compose))
        else:
            depends_on[on(compose)] = {"condition": condition}
        compose["services"][service]["depends_on"] = depends_on

    return mutate


def _unset(service: str, key: str) -> Callable[..., None]:
    return lambda compose: compose["services"][service].pop(key)


def _migrate(compose: dict[str, Any]) -> str:
    return next(n for n, s in _built(compose).items() if "campaign-dispatch migrate" in _command(s))


def _named(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda compose: name


_SEED_THEN_MIGRATE = "campaign-dispatch seed --if-empty && campaign-dispatch migrate"
COMPOSE_DEFECTS = [
    pytest.param(
        _set(_db, "healthcheck", {"disable": True}), check_waited_on_services, id="db-unchecked"
    ),
    pytest.param(
        _set(_broker, "healthcheck", {"test": ["NONE"]}), check_waited_on_services, id="mq-none"
    ),
    pytest.param(
        _set(_migrate, "restart", "unless-stopped"),
        check_waited_on_services,
        id="one-shot-restarts",
    ),
    pytest.param(_set(_broker, "image", "rabbitmq:latest"), check_images_pinned, id="latest"),
    pytest.param(_set(_db, "image", "postgres"), check_images_pinned, id="bare-image"),
    pytest.param(_set_env(_broker, "RABBITMQ_NODE_PORT", "5673"), check_stack_urls, id="mq-port"),
    pytest.param(_set(_db, "command", "postgres -p 5433"), check_stack_urls, id="db-port"),
    pytest.param(_set_env(_db, "POSTGRES_PASSWORD", "other"), check_stack_urls, id="db-password"),
    pytest.param(_set_env(_broker, "RABBITMQ_DEFAULT_USER", "x"), check_stack_urls, id="mq-user"),
    pytest.param(_set_env(_named("worker"), "AMQP_URL", ""), check_app_services, id="no-broker"),
    pytest.param(
        _set_env(_named("api"), "DATABASE_URL", "sqlite:///x.db"), check_app_services, id="sqlite"
    ),
    pytest.param(_set_env(_named("api"), "HOST", "127.0.0.1"), check_app_services, id="loopback"),
    pytest.param(
        _set_env(_named("api"), "WEB_DIST_DIR", "/srv/web"), check_app_services, id="no-dashboard"
    ),
    pytest.param(
        _set(_named("worker"), "environment", {}), check_app_services, id="settings-missing"
    ),
    pytest.param(
        _set(_named("worker"), "command", ["campaign-dispatch", "workers"]),
        check_roles,
        id="no-such-subcommand",
    ),
    pytest.param(
        _set(_named("scheduler"), "command", "campaign-dispatch worker"), check_roles, id="role"
    ),
    pytest.param(
        _set(_migrate, "command", ["sh", "-c", _SEED_THEN_MIGRATE]),
        check_migrations_first,
        id="seed-first",
    ),
    pytest.param(
        _set(_migrate, "command", "sh -c 'campaign-dispatch migrate; campaign-dispatch seed'"),
        check_migrations_first,
        id="seed-after-failed-migrate",
    ),
    pytest.param(
        _set(_migrate, "command", "sh -c 'campaign-dispatch migrate && campaign-dispatch seed'"),
        check_migrations_first,
        id="seed-without-if-empty",
    ),
    pytest.param(
        _depends("api", _broker, "service_started"), check_migrations_first, id="mq-not-awaited"
    ),
    pytest.param(
        _depends("worker", _migrate, None), check_migrations_first, id="migrations-not-awaited"
    ),
    pytest.param(_unset("worker", "healthcheck"), check_health_matches_role, id="worker-http"),
    pytest.param(_set(_named("api"), "ports", ["8000:9000"]), check_health_matches_role, id="port"),
    pytest.param(
        _set(_named("api"), "healthcheck", {"disable": True}), check_health_matches_role, id="off"
    ),
    pytest.param(
        _set(_named("api"), "healthcheck", {"test": ["CMD-SHELL", "curl -f localhost:8000/"]}),
        check_health_matches_role,
        id="probe-no-url",
    ),
    pytest.param(
        _set(_named("worker"), "container_name", "worker"), check_scaling, id="container-name"
    ),
    pytest.param(_set(_named("scheduler"), "ports", ["9000:9000"]), check_scaling, id="ports"),
]


@pytest.mark.parametrize(("mutate", "check"), COMPOSE_DEFECTS)
def test_compose_checks_catch_a_defect(
    compose: dict[str, Any],
    dockerfile: Dockerfile,
    mutate: Callable[[dict[str, Any]], None],
    check: Callable[[dict[str, Any], Dockerfile], None],
) -> None:
    mutated = copy.deepcopy(compose)
    mutate(mutated)
    assert mutated != compose
    with pytest.raises(AssertionError):
        check(mutated, dockerfile)


def _rename_service(old: Callable[[dict[str, Any]], str], new: str) -> Callable[..., None]:
    def rewrite(compose: dict[str, Any]) -> None:
        name = old(compose)
        services = compose["services"]
        services[new] = services.pop(name)
        for service in services.values():
            depends_on = service.get("depends_on") or {}
            if name in depends_on:
                service["depends_on"] = {new if k == name else k: v for k, v in depends_on.items()}
            env = _environment(service)
            if env:
                service["environment"] = {
                    k: v.replace(f"@{name}:", f"@{new}:") for k, v in env.items()
                }

    return rewrite


def _db_on_5433(compose: dict[str, Any]) -> None:
    db = _db(compose)
    for service in compose["services"].values():
        env = _environment(service)
        if env:
            service["environment"] = {
                k: v.replace(f"@{db}:5432", f"@{db}:5433") for k, v in env.items()
            }
    _set_env(_db, "PGPORT", "5433")(compose)


def _string_commands(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        command = service.get("command")
        if isinstance(command, list):
            service["command"] = shlex.join(command)


def _list_environments(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        if service.get("environment"):
            service["environment"] = [f"{k}={v}" for k, v in _environment(service).items()]


COMPOSE_REWRITES = [
    pytest.param(_rename_service(_db, "db"), id="database-renamed"),
    pytest.param(_rename_service(_broker, "broker"), id="broker-renamed"),
    pytest.param(_db_on_5433, id="database-on-another-port"),
    pytest.param(_string_commands, id="string-commands"),
    pytest.param(_list_environments, id="list-environments"),
    pytest.param(_set(_db, "image", "postgres:17.5"), id="newer-postgres"),
    pytest.param(_set(_broker, "image", "rabbitmq:4.1-management-alpine"), id="newer-rabbitmq"),
    pytest.param(
        _set(_db, "healthcheck", {"test": "pg_isready -U campaign_dispatch"}), id="string-test"
    ),
    pytest.param(_unset("api", "healthcheck"), id="api-uses-the-image-healthcheck"),
]


@pytest.mark.parametrize("rewrite", COMPOSE_REWRITES)
def test_compose_checks_accept_a_harmless_rewrite(
    compose: dict[str, Any], dockerfile: Dockerfile, rewrite: Callable[[dict[str, Any]], None]
) -> None:
    rewritten = copy.deepcopy(compose)
    rewrite(rewritten)
    for check in COMPOSE_CHECKS:
        check(rewritten, dockerfile)


def test_compose_file_suits_docker_compose_v1(compose: dict[str, Any]) -> None:
    """Debian's docker-compose 1.29.2 rejects a top-level name and the long env_file."""
    assert "name" not in compose
    assert "version" not in compose
    for name, service in compose["services"].items():
        assert "env_file" not in service, f"{name}: pass settings through `environment`"


_SETTING = re.compile(r"\$\{([A-Z][A-Z0-9_]*):-([^}$]*)\}")


@pytest.mark.parametrize("name", ["migrate", *APP_SERVICES])
def test_app_services_pass_every_setting_with_its_default(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A setting exported in the shell or written in .env reaches the containers, and unset
    it is the built-in default (LOG_FORMAT: json in the stack)."""
    environment: dict[str, Any] = services[name]["environment"]
    assert sorted(SETTINGS_VARS - set(environment)) == [], f"Settings missing from {name}"
    for variable in SETTINGS_VARS:
        monkeypatch.delenv(variable, raising=False)
    defaults = Settings(_env_file=None).model_dump()
    for variable in sorted(SETTINGS_VARS - STACK_VARS):
        match = _SETTING.fullmatch(str(environment[variable]))
        assert match, f"{variable}: write `{variable}: ${{{variable}:-<default>}}`"
        assert match.group(1) == variable, f"{variable} interpolates {match.group(1)}"
        default = match.group(2)
        setting = variable.removeprefix(ENV_PREFIX).lower()
        if variable in STACK_DEFAULTS:
            assert default == STACK_DEFAULTS[variable], variable
        elif default:
            monkeypatch.setenv(variable, default)
        else:  # `${NAME:-}`: empty, so the setting must default to unset
            assert Settings.model_fields[setting].default is None, variable
    shown = Settings(_env_file=None).model_dump()
    wrong = {k: f"compose {shown[k]!r}, default {v!r}" for k, v in defaults.items()}
    assert {k: v for k, v in wrong.items() if shown[k] != defaults[k]} == {}


def test_every_interpolation_has_a_default() -> None:
    """So `docker compose config` works with no .env and no exported variables."""
    text = COMPOSE_FILE.read_text()
    references = re.findall(r"(?<!\$)\$\{([^}]*)\}", text)
    assert references
    assert [r for r in references if ":-" not in r] == []
    assert re.search(r"(?<!\$)\$[A-Za-z_]", text) is None, "use ${VAR:-default}, or $$ for $"


# --- .env.example <-> Settings --------------------------------------------------------------

_ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")


def _env_example() -> dict[str, str]:
    """Every `NAME=value` line, commented out (`# NAME=value`) or not."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match:
            name, value = match.groups()
            assert name not in found, f"{name} appears twice in .env.example"
            found[name] = value.strip()
    return found


def test_env_example_lists_exactly_the_settings() -> None:
    documented = set(_env_example())
    assert sorted(documented - SETTINGS_VARS) == [], "in .env.example but not in Settings"
    assert sorted(SETTINGS_VARS - documented) == [], "in Settings but not in .env.example"


def test_env_example_shows_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    defaults = Settings(_env_file=None)
    for name, value in _env_example().items():
        field_name = name.removeprefix(ENV_PREFIX).lower()
        if value:
            monkeypatch.setenv(name, value)
        else:  # shown empty: unset by default, or computed (WEB_DIST_DIR)
            default = Settings.model_fields[field_name].default
            assert default is None or field_name == "web_dist_dir", name
    documented = Settings(_env_file=None).model_dump()
    expected = defaults.model_dump()
    wrong = {k: f"shows {documented[k]!r}, default {v!r}" for k, v in expected.items()}
    assert {k: v for k, v in wrong.items() if documented[k] != expected[k]} == {}


def test_env_example_holds_no_secrets() -> None:
    for name, value in _env_example().items():
        if name in ("DATABASE_URL", "AMQP_URL"):
            assert "@" not in value, f"{name} in .env.example must carry no credentials"
        if name == "API_KEYS":
            assert value == ""


# --- .dockerignore ----------------------------------------------------------------------------


def _dockerignore_patterns() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, near enough: the last matching pattern wins; a parent folder counts."""

    def regex(pattern: str) -> re.Pattern[str]:
        out = re.escape(pattern.strip("/")).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
        out = re.sub(r"\\\[(.*?)\\\]", r"[\1]", out).replace(r"\?", "[^/]")
        return re.compile(out + "$")

    parts = path.split("/")
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        compiled = regex(pattern.lstrip("!"))
        if any(compiled.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_what_the_dockerfile_copies(dockerfile: Dockerfile) -> None:
    patterns = _dockerignore_patterns()
    sources = {
        posixpath.normpath(source.lstrip("/") or ".")
        for stage in dockerfile.stages
        for instruction in stage.copies()
        if instruction.origin is None
        for source in instruction.sources
    }
    assert {"uv.lock", "alembic.ini"} <= sources  # the parser found the COPY sources
    missing = [s for s in sorted(sources) if s != "." and not list(ROOT.glob(s))]
    assert missing == [], "COPY sources missing from the repository"
    assert [s for s in sorted(sources) if s != "." and _ignored(s, patterns)] == []


def test_dockerignore_keeps_the_build_inputs_and_drops_local_state() -> None:
    patterns = _dockerignore_patterns()
    needed = [
        "pyproject.toml",
        "uv.lock",
        "README.md",
        "alembic.ini",
        "src/campaign_dispatch/cli.py",
        "migrations/env.py",
        *WEB_BUILD_INPUTS,
    ]
    assert [p for p in needed if _ignored(p, patterns)] == []
    dropped = [
        ".env",
        ".git/config",
        ".venv/bin/python",
        "web/node_modules/vite/package.json",
        "web/dist/index.html",
        "campaign_dispatch.db",
        "src/campaign_dispatch/__pycache__/cli.cpython-311.pyc",
        ".mypy_cache/x",
    ]
    assert [p for p in dropped if not _ignored(p, patterns)] == []


# --- docker compose config --------------------------------------------------------------------

_INVALID_COMPOSE = (
    "services:\n  probe:\n    image: busybox\n    depends_on: {x: {condition: nope}}\n"
)


def _run(cli: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run(
        [*cli, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def _compose_cli() -> tuple[list[str] | None, str]:
    """`docker compose` (v2) if it works, else `docker-compose` (v1); or why neither."""
    reasons = []
    for cli in ([shutil.which("docker"), "compose"], [shutil.which("docker-compose")]):
        label = "docker compose" if len(cli) == 2 else "docker-compose"
        if cli[0] is None:
            reasons.append(f"no `{label.split()[0]}` on PATH")
            continue
        command = [str(part) for part in cli]
        try:
            version = _run(command, "version", cwd=ROOT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            reasons.append(f"`{label} version`: {exc}")
            continue
        if version.returncode == 0:
            return command, label
        said = (version.stderr or version.stdout).strip().splitlines()[:1]
        reasons.append(f"`{label} version` fails ({''.join(said) or 'no output'})")
    return None, "; ".join(reasons)


def _example_dotenv() -> str:
    """.env.example with every setting uncommented: the defaults, written out."""
    return "".join(f"{name}={value}\n" for name, value in _env_example().items())


@pytest.mark.parametrize("where", ["repository", "copy-without-dotenv", "copy-with-dotenv"])
def test_docker_compose_config_accepts_the_file(tmp_path: Path, where: str) -> None:
    cli, label = _compose_cli()
    if cli is None:
        message = f"no Compose CLI for `config` ({label})"
        if REQUIRED:
            pytest.fail(f"{message} and REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(f"{message} (set REQUIRE_SERVICES=1 to fail instead)")
    # First prove that this CLI validates at all: a broken file must fail.
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "docker-compose.yml").write_text(_INVALID_COMPOSE)
    probe = _run(cli, "-f", "docker-compose.yml", "config", "-q", cwd=canary)
    assert probe.returncode != 0, f"`{label} config -q` accepts a broken file: it proves nothing"

    cwd = ROOT
    if where != "repository":
        cwd = tmp_path / "project"
        cwd.mkdir()
        shutil.copy(COMPOSE_FILE, cwd / COMPOSE_FILE.name)
        if where == "copy-with-dotenv":
            (cwd / ".env").write_text(_example_dotenv())
    result = _run(cli, "-f", COMPOSE_FILE.name, "config", "-q", cwd=cwd)
    assert result.returncode == 0, f"`{label} config -q`: {result.stderr}"

    # What the CLI resolved: the x-app merge reached every app service, whole.
    resolved = _run(cli, "-f", COMPOSE_FILE.name, "config", cwd=cwd)
    assert resolved.returncode == 0, resolved.stderr
    services = yaml.safe_load(resolved.stdout)["services"]
    for name in ("migrate", *APP_SERVICES):
        environment = services[name]["environment"]
        assert sorted(SETTINGS_VARS - set(environment)) == [], name
        assert environment["HOST"] == "0.0.0.0", name
        assert str(environment["MAX_RETRIES"]) == "3", name
    for name in APP_SERVICES:
        assert _command(services[name]) == f"campaign-dispatch {name}"


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", str(duration))
    assert match, f"unreadable duration {duration!r}"
    value, unit = float(match.group(1)), match.group(2)
    return value * {"ms": 0.001, "s": 1, "m": 60}[unit]


@pytest.mark.parametrize("name", ["api", "worker", "scheduler"])
def test_compose_lets_a_stopping_process_drain_and_release_before_sigkill(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Docker's SIGKILL comes `stop_grace_period` after SIGTERM (10 s when unset); the
    process drains for SHUTDOWN_GRACE_SECONDS, then cancels and hands back what is left."""
    service = compose["services"][name]
    environment = {**compose["x-app"]["environment"], **(service.get("environment") or {})}
    match = _SETTING.fullmatch(str(environment["SHUTDOWN_GRACE_SECONDS"]))
    assert match, "SHUTDOWN_GRACE_SECONDS must be passed with its default"
    monkeypatch.setenv("SHUTDOWN_GRACE_SECONDS", match.group(2))
    drain = Settings(_env_file=None).shutdown_grace_seconds
    grace = _seconds(service.get("stop_grace_period", "10s"))
    assert grace >= drain + 5, f"{name}: stop_grace_period {grace}s, drain {drain}s"
