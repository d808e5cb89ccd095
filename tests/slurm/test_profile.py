"""The SLURM profile without a cluster: as users type it, its routing, the resource labels.

These run everywhere (no root, no SLURM); tests marked `slurm` check the same on a real cluster.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from tests.slurm.helpers import CLUSTER_SCRIPT, SLURM_PROFILE, planned_jobs, run_env
from tests.workflow.helpers import REPO, SNAKEFILE, make_workdir

COMMON = REPO / "workflow" / "rules" / "common.smk"

# Rules that train a network and so ask for a GPU with res("gpu").
NETWORK_TRAINING_RULES = {"train_pretrain", "train_cv_fold", "train_finetune"}


def snakemake_dry_run(workdir: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "-n", *args],
        cwd=workdir,
        env=env or run_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# ------------------------------------------------------------------ `--profile slurm`
@pytest.mark.parametrize("xdg", [True, False], ids=["XDG_CONFIG_HOME", "HOME/.config"])
def test_make_slurm_profile_lets_snakemake_find_it_by_name(xdg, toy_dir, tmp_path):
    home = tmp_path / "home"
    env = {**run_env(), "HOME": str(home), "XDG_CONFIG_HOME": ""}
    folder = home / ".config" / "snakemake"
    if xdg:
        env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
        folder = tmp_path / "xdg" / "snakemake"
    for _ in range(2):  # running it again is harmless
        made = subprocess.run(
            ["make", "-s", "slurm-profile"], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert made.returncode == 0, made.stderr
    link = folder / "slurm"
    assert link.is_symlink() and link.resolve() == SLURM_PROFILE.resolve()
    workdir = make_workdir(tmp_path / "anywhere", toy_dir / "cohorts.tsv")
    result = snakemake_dry_run(workdir, "--profile", "slurm", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "Using profile slurm" in output
    planned = planned_jobs(output)
    assert {job.rule for job in planned} >= {"train_pretrain", "cohort_load"}


def test_make_slurm_profile_never_replaces_a_real_profile_folder(tmp_path):
    (tmp_path / "xdg" / "snakemake" / "slurm").mkdir(parents=True)
    env = {**run_env(), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    made = subprocess.run(
        ["make", "-s", "slurm-profile"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert made.returncode != 0
    assert "exists and is not a link" in made.stderr
    assert not (tmp_path / "xdg" / "snakemake" / "slurm").is_symlink()


def test_repository_profile_dry_run(toy_dir, tmp_path):
    workdir = make_workdir(tmp_path, toy_dir / "cohorts.tsv")
    result = snakemake_dry_run(workdir, "--profile", str(SLURM_PROFILE))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    planned = planned_jobs(result.stdout + result.stderr)
    gpu_rules = {job.rule for job in planned if job.resources.get("gpu") == 1}
    # The network-training rules ask for a GPU (res("gpu")); light train_* steps (splits,
    # aggregation, attributions) stay on CPU.
    assert gpu_rules == NETWORK_TRAINING_RULES


# ------------------------------------------------------------------ routing
def test_plugin_routes_gpu_requests_to_the_gpu_partition_and_the_rest_to_cpu(toy_dir, tmp_path):
    """The plugin's own partition choice, fed the profile and the dry run's resources."""
    from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file

    workdir = make_workdir(tmp_path, toy_dir / "cohorts.tsv")
    result = snakemake_dry_run(workdir, "--profile", str(SLURM_PROFILE))
    assert result.returncode == 0, result.stderr[-3000:]
    partitions = read_partition_file(SLURM_PROFILE / "config.yaml")
    assert [partition.name for partition in partitions] == ["cpu", "gpu"]
    logger = SimpleNamespace(info=lambda *a: None, debug=lambda *a: None, warning=print)
    planned = [job for job in planned_jobs(result.stdout + result.stderr) if not job.local]
    assert len(planned) >= 20
    for job in planned:
        fake = SimpleNamespace(name=job.rule, threads=job.threads, resources=job.resources)
        # As the plugin's get_partition_arg: a slurm_partition resource wins over the choice.
        chosen = job.resources.get("slurm_partition") or get_best_partition(
            partitions, fake, logger
        )
        assert chosen == ("gpu" if job.rule in NETWORK_TRAINING_RULES else "cpu"), job


def test_profile_keeps_site_settings_in_one_block_and_lets_the_plugin_manage_flags():
    profile = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["retries"] == 2 and profile["rerun-incomplete"] is True
    assert profile["show-failed-logs"] is True and profile["latency-wait"] >= 30
    assert profile["jobs"] >= 10
    assert profile["slurm-partition-config"] == "config.yaml"
    assert {"mem_mb", "runtime"} <= set(profile["default-resources"])
    # A default partition would override the GPU routing for every job.
    assert "slurm_partition" not in profile["default-resources"]
    assert "slurm_extra" not in yaml.safe_dump(profile)
    assert profile["partitions"]["gpu"]["max_gpu"] >= 1
    assert not profile["partitions"]["cpu"].get("max_gpu")


def test_default_profile_cannot_override_the_slurm_profile():
    """Snakemake loads profiles/default as the workflow profile from the repository root,
    and then its keys win over `--profile slurm`: it may only hold harmless keys."""
    default = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    slurm = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
    forbidden = {"executor", "jobs", "retries", "latency-wait", "default-resources", "keep-going"}
    assert not forbidden & set(default), forbidden & set(default)
    for key in set(default) & set(slurm):
        assert default[key] == slurm[key], key


# ------------------------------------------------------------------ resources by label
def load_res():
    """`res` and `RESOURCE_CLASSES` from common.smk's "resources by label" section."""
    text = COMMON.read_text()
    section = text.split("# " + "-" * 64 + " resources by label")[1].split("# " + "-" * 64)[0]
    namespace: dict = {}
    exec(compile(section, str(COMMON), "exec"), namespace)
    return namespace["res"], namespace["RESOURCE_CLASSES"]


def test_res_scales_memory_and_runtime_with_the_attempt():
    res, classes = load_res()
    assert set(classes) == {"low", "medium", "high", "gpu"}
    for label, spec in classes.items():
        resources = res(label)
        for attempt in (1, 2, 3):
            assert resources["mem_mb"](None, attempt) == spec["mem_mb"] * attempt
            assert resources["runtime"](None, attempt) == spec["runtime"] * attempt
        assert resources.get("gpu", 0) == (1 if label == "gpu" else 0)
        assert set(resources) <= {"mem_mb", "runtime", "gpu"}
    assert classes["low"]["mem_mb"] < classes["medium"]["mem_mb"] < classes["high"]["mem_mb"]
    with pytest.raises(ValueError, match="unknown resource class 'huge'; expected one of"):
        res("huge")


RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)*)", re.MULTILINE)


def test_rules_ask_for_resources_by_label_and_gpu_rules_are_training_rules():
    rules = {}
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        rules.update(dict(RULE.findall(path.read_text())))
    assert len(rules) >= 13
    for name, body in rules.items():
        resources = re.search(r"\n    resources:\n((?:        .*\n)+)", body)
        assert resources, f"rule {name} has no resources: **res(...)"
        lines = [line.strip() for line in resources.group(1).splitlines()]
        assert len(lines) == 1 and re.fullmatch(r'\*\*res\("(low|medium|high|gpu)"\),', lines[0]), (
            name,
            lines,
        )
        if '"gpu"' in lines[0]:
            assert name.startswith("train_"), f"{name} asks for a GPU but is not a train_* rule"
        for word in ("slurm_partition", "slurm_account", "gpu_model", "gres", "mem_mb"):
            assert word not in body, (name, word)


# ------------------------------------------------------------------ cluster.sh safety
def test_cluster_stop_only_kills_processes_it_started(tmp_path):
    """A stale pid file naming another process (a reused PID) is never signalled."""
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        run = tmp_path / "run"
        run.mkdir()
        (run / "slurmd.pid").write_text(f"{bystander.pid}\n")
        (run / "slurmctld.pid").write_text("999999999\n")  # no such process
        env = {**os.environ, "SLURM_TEST_DIR": str(tmp_path)}
        for command in ("stop", "status"):
            result = subprocess.run(
                ["bash", str(CLUSTER_SCRIPT), command],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert "running (PID" not in result.stdout, result.stdout
        assert bystander.poll() is None, "cluster.sh stop killed a process it did not start"
    finally:
        bystander.kill()
        bystander.wait()
