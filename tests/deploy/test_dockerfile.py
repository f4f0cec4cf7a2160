"""The image's build inputs, checked here since Docker cannot run on this machine."""
import shlex
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def stages():
    """{stage name: [(instruction, arguments)]}, continuation lines joined; the last stage is "runtime"."""
    result, current = {}, None
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            words = arguments.split()
            current = words[2] if len(words) > 2 and words[1].upper() == "AS" else "runtime"
            result[current] = []
        result[current].append((instruction.upper(), arguments.strip()))
    return result


def copies(stage):
    """[(sources, destination)] of the stage's COPY lines that take files from the build context."""
    found = []
    for instruction, arguments in stage:
        words = shlex.split(arguments)
        if instruction == "COPY" and not any(word.startswith("--from") for word in words):
            words = [word for word in words if not word.startswith("--")]
            found.append((words[:-1], words[-1]))
    return found


def test_every_path_the_dockerfile_copies_exists():
    for name, stage in stages().items():
        for sources, _ in copies(stage):
            for source in sources:
                assert (ROOT / source).exists(), f"stage {name} copies {source}, which is not in the project"


def test_the_wheels_stage_has_the_client_and_a_requirement_file_without_editable_lines(tmp_path):
    wheels = stages()["wheels"]
    copied = {source for sources, _ in copies(wheels) for source in sources}
    assert {"requirements.txt", "pyproject.toml", "locker_client"} <= copied
    run = next(arguments for instruction, arguments in wheels if instruction == "RUN" and "pip wheel" in arguments)
    # The command before `pip wheel` makes the file pip reads: run it on the real requirements.txt.
    make_file, _, build = run.partition("&&")
    shutil.copy(ROOT / "requirements.txt", tmp_path)
    subprocess.run(make_file, shell=True, cwd=tmp_path, check=True)
    filtered_name = build.split("-r", 1)[1].split()[0]
    filtered = (tmp_path / filtered_name).read_text().splitlines()
    original = (ROOT / "requirements.txt").read_text().splitlines()
    assert not [line for line in filtered if line.lstrip().startswith(("-e", "--editable"))]
    assert filtered == [line for line in original if not line.startswith("-e ")] and len(filtered) > 10
    assert build.split()[-1] == ".", "the client (pyproject.toml) is built as a wheel too"


def test_the_runtime_has_pyproject_beside_the_app_for_the_version():
    runtime = stages()["runtime"]
    workdir = next(arguments for instruction, arguments in runtime if instruction == "WORKDIR")
    targets = {source: destination for sources, destination in copies(runtime) for source in sources}
    assert targets["pyproject.toml"] == "./" and targets["app"] == "./app" and workdir == "/app"


def compose_service(name):
    import yaml

    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"][name]


def test_compose_binds_gunicorn_to_the_container_interface_whatever_the_env_file_says():
    from dotenv import dotenv_values

    locker = compose_service("locker")
    # `environment:` wins over env_file (deploy/.env, a copy of the example).
    assert locker["env_file"] == ".env" and locker["environment"]["GUNICORN_BIND"] == "0.0.0.0:8000"
    assert "8000" in locker["ports"][0].rsplit(":", 1)[-1]
    assert not dotenv_values(ROOT / ".env.production.example").get("GUNICORN_BIND")


def test_compose_starts_locker_once_the_s3_gateway_answers():
    seaweedfs = compose_service("seaweedfs")
    assert "/healthz" in " ".join(seaweedfs["healthcheck"]["test"])
    assert compose_service("locker")["depends_on"]["seaweedfs"]["condition"] == "service_healthy"


def test_the_image_has_a_postgresql_client_of_the_compose_servers_major_version():
    # `flask locker backup` runs pg_dump, which refuses a server newer than itself.
    server_major = compose_service("postgres")["image"].split(":")[1].split("-")[0].split(".")[0]
    runtime = " ".join(arguments for instruction, arguments in stages()["runtime"] if instruction == "RUN")
    assert f"postgresql-client-{server_major} " in runtime + " "
