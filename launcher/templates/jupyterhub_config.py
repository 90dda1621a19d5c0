# JupyterHub for a yolo-lab class: every student gets their own yolo-lab
# container (JupyterLab, yolo-lab, YOLOv5, PyTorch) on this GPU server.
# Written by `yolo-lab classroom init`; README.md, "A class on one GPU server
# (JupyterHub)", explains it line by line.
#
# Needs on this machine: `pip install "jupyterhub>=6.1,<6.2" dockerspawner`,
# `npm install -g configurable-http-proxy`, the Docker engine and the image
# below (`yolo-lab build`). Start it from this folder, as a user who may use
# Docker (root, to give each student a uid of their own):
#     jupyterhub -f jupyterhub_config.py
# The Hub keeps its database, cookie secret and proxy token next to this file.

import os
import shutil
from pathlib import Path

from dockerspawner import DockerSpawner
from jupyterhub.utils import random_port

c = get_config()  # noqa: F821 (JupyterHub defines it while loading this file)

# ---- settings: written by `yolo-lab classroom init`; change them here ----
IMAGE = "yolo-lab:latest"  # the yolo-lab image each student's server runs
HUB_IP = "127.0.0.1"  # the address students' browsers reach (through your TLS proxy)
HUB_PORT = 8000
STUDENTS = []  # user names allowed in, in order ("each" gives the n-th student the n-th GPU)
ADMINS = []  # teachers: every server in the Hub's admin page and the panel's Class
STUDENTS_DIR = "/srv/yolo-lab/students"  # one folder per student: notebooks and runs
DATASETS_DIR = None  # shared datasets, read-only at /datasets (None: none)
NOTEBOOKS_DIR = None  # course notebooks, copied into each new student's folder once
GPU_POLICY = "none"  # none | each | round-robin | shared
GPU_IDS = []  # GPU indexes or GPU-/MIG- UUIDs (nvidia-smi -L); [] with "shared": all
MEM_FRACTION = None  # "shared" (and optionally round-robin): each student's share of a GPU
SHM_SIZE = "8g"  # /dev/shm per container, for DataLoader workers
FIRST_UID = 20000  # student n runs as uid FIRST_UID + n (their Hub user id)
AUTH = "placeholder"  # placeholder | dummy (tests and a first try only)
PASSWORD_ENV = "YOLO_LAB_HUB_PASSWORD"  # with AUTH = "dummy": the shared password's variable
# ---- end of settings ----

HERE = Path(__file__).resolve().parent

# -- The Hub and its proxy ---------------------------------------------------
# Listen on this machine only: put a TLS proxy (Caddy, nginx) in front on
# port 443 and let it forward to HUB_IP:HUB_PORT. Passwords and tokens never
# cross the network unencrypted.
c.JupyterHub.ip = HUB_IP
c.JupyterHub.port = HUB_PORT
# The Hub's own API, where each server reports in. The containers share the
# host's network (below), so 127.0.0.1 reaches it from inside them.
c.JupyterHub.hub_ip = "127.0.0.1"
# State next to this file, not in whatever folder the Hub was started from.
c.JupyterHub.db_url = f"sqlite:///{HERE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(HERE / "jupyterhub_cookie_secret")
# configurable-http-proxy (npm) routes /user/<name>/ to that student's server.
c.ConfigurableHTTPProxy.command = ["configurable-http-proxy"]
# Stopping the Hub stops every student's server (their folders stay).
c.JupyterHub.cleanup_servers = True

# -- Who may log in ----------------------------------------------------------
if STUDENTS:
    c.Authenticator.allowed_users = set(STUDENTS)
c.Authenticator.admin_users = set(ADMINS)
if AUTH == "dummy":
    # One password shared by every allowed student: for tests and a first
    # try on a machine nobody else reaches. Never for a class.
    password = os.environ.get(PASSWORD_ENV, "")
    if len(password) < 8:
        raise SystemExit(f"Set {PASSWORD_ENV} to the shared password (8 characters or more).")
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = password
    if ADMINS:
        c.SharedPasswordAuthenticator.admin_password = os.environ.get(PASSWORD_ENV + "_ADMIN", "")
else:
    # Choose how your students sign in, then delete the SystemExit line:
    # - GitHub or GitLab accounts: `pip install oauthenticator`, register an
    #   OAuth app whose callback is https://<your host>/hub/oauth_callback:
    #     c.JupyterHub.authenticator_class = "github"   # or "gitlab"
    #     c.GitHubOAuthenticator.oauth_callback_url = "https://<your host>/hub/oauth_callback"
    #     c.GitHubOAuthenticator.client_id = os.environ["OAUTH_CLIENT_ID"]
    #     c.GitHubOAuthenticator.client_secret = os.environ["OAUTH_CLIENT_SECRET"]
    # - Your LMS (Moodle, Canvas, ...): `pip install jupyterhub-ltiauthenticator`:
    #     c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.auth.LTI13Authenticator"
    # - Accounts students sign up for and you approve:
    #   `pip install jupyterhub-nativeauthenticator`:
    #     c.JupyterHub.authenticator_class = "native"
    raise SystemExit("jupyterhub_config.py: choose an authenticator (see 'Who may log in').")

# -- One yolo-lab container per student --------------------------------------


def gpu_plan(index, user_id):
    """The DeviceRequests and environment for one student's container.

    ``index`` is the student's place in STUDENTS (None when not listed, as a
    teacher in ADMINS only); ``user_id`` their Hub user id.
    """
    nvidia = {"Driver": "nvidia", "Capabilities": [["gpu"]]}
    env = {}
    if MEM_FRACTION is not None:
        # yolo_lab applies it when a training starts
        # (torch.cuda.set_per_process_memory_fraction on every visible GPU).
        env["YOLO_LAB_GPU_MEMORY_FRACTION"] = str(MEM_FRACTION)
    if GPU_POLICY == "none":
        return [], {}
    if GPU_POLICY == "each":
        # One GPU (or MIG slice) per student, by their place in STUDENTS.
        if index is None or index >= len(GPU_IDS):
            raise ValueError(
                f"GPU_POLICY 'each' has {len(GPU_IDS)} GPUs for the students in STUDENTS;"
                " this user is not one of them."
            )
        return [{**nvidia, "DeviceIDs": [GPU_IDS[index]]}], env
    if GPU_POLICY == "round-robin":
        # Student n on GPU n modulo the number of GPUs: each GPU shared by a few.
        n = index if index is not None else user_id
        return [{**nvidia, "DeviceIDs": [GPU_IDS[n % len(GPU_IDS)]]}], env
    if GPU_POLICY == "shared":
        # Everybody on the same GPU(s): the memory cap keeps one student's
        # training from taking the memory the others need.
        devices = {"DeviceIDs": list(GPU_IDS)} if GPU_IDS else {"Count": -1}
        return [{**nvidia, **devices}], env
    raise ValueError(f"Unknown GPU_POLICY {GPU_POLICY!r}: use none, each, round-robin or shared.")


def student_index(name):
    """The student's place in STUDENTS, or None."""
    return STUDENTS.index(name) if name in STUDENTS else None


class YoloLabSpawner(DockerSpawner):
    """DockerSpawner with the containers on the host's network.

    DockerSpawner publishes a container's port on a bridge network by
    default; with the host's network every server instead listens on a free
    port of 127.0.0.1, and the Hub reaches it there.
    """

    async def start(self):
        self.port = random_port()
        return await super().start()

    async def get_ip_and_port(self):
        return self.ip, self.port


c.JupyterHub.spawner_class = YoloLabSpawner
c.DockerSpawner.image = IMAGE
c.DockerSpawner.network_name = "host"
# No port to publish: on the host's network the server's port is the host's.
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.ip = "127.0.0.1"  # each server listens on loopback only
# The Hub's single-user server (the jupyterhub package in the image), which
# accepts only this student's Hub tokens and cookies.
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
c.DockerSpawner.notebook_dir = "/workspace"
c.Spawner.default_url = "/lab"
c.DockerSpawner.name_template = "yolo-lab-class-{username}"
# A stopped server's container goes; the student's folder stays.
c.DockerSpawner.remove = True
c.DockerSpawner.pull_policy = "ifnotpresent"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60
# The launcher's safe defaults: no privileges, no capabilities, no setuid
# gains, an init process reaping the kernels' children, and enough /dev/shm
# for DataLoader workers.
c.DockerSpawner.extra_host_config = {
    "privileged": False,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "init": True,
    "shm_size": SHM_SIZE,
}
c.DockerSpawner.extra_create_kwargs = {"labels": {"yolo-lab.classroom": "1"}}
c.Spawner.environment = {
    "PYTHONUNBUFFERED": "1",
    "HOME": "/tmp",
    # The Hub's proxy as the servers reach it (on the host's network): a
    # teacher's panel asks each student's server through it.
    "YOLO_LAB_HUB_URL": f"http://{'127.0.0.1' if HUB_IP in ('', '0.0.0.0') else HUB_IP}:{HUB_PORT}",
    # Where each server looks for the trainings it reports (the runs mount).
    "YOLO_LAB_RUN_ROOTS": "/runs",
}


def server_token_scopes(spawner):
    """The scopes of each server's own API token (JUPYTERHUB_API_TOKEN).

    A student's server may only report its activity and be reached by its
    student. A teacher's (an admin's) may also list the users, read their
    servers and reach them: the panel's Class section asks each running
    server what it trains, with this token, through the proxy. The Hub
    grants only what the user holds, and checks every request.
    """
    scopes = ["users:activity!user", "access:servers!server"]
    if spawner.user.admin:
        scopes += ["list:users", "read:users", "read:servers", "access:servers"]
    return scopes


c.Spawner.server_token_scopes = server_token_scopes


def copy_new(source, target, uid):
    """Copy the files under ``source`` that ``target`` lacks, owned by ``uid``."""
    for path in sorted(source.rglob("*")):
        dest = target / path.relative_to(source)
        if path.is_dir():
            dest.mkdir(exist_ok=True)
        elif not dest.exists():
            shutil.copy2(path, dest)
        else:
            continue
        if os.geteuid() == 0:
            os.chown(dest, uid, uid)


def prepare_student(spawner):
    """Before each start: the student's folder, uid, mounts and GPUs.

    The folder (notebooks and runs) is created on the first start, readable
    by its student only, and the course notebooks are copied in once (a
    marker file remembers it; a notebook the student changed is never
    overwritten).
    """
    folder = Path(STUDENTS_DIR) / spawner.escaped_name
    runs = folder / "runs"
    uid = FIRST_UID + spawner.user.id if os.geteuid() == 0 else os.getuid()
    runs.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        for path in (folder, runs):
            os.chown(path, uid, uid)
    folder.chmod(0o700)
    marker = folder / ".yolo-lab-course-copied"
    if NOTEBOOKS_DIR and not marker.exists():
        copy_new(Path(NOTEBOOKS_DIR), folder, uid)
        marker.write_text("Course notebooks copied; delete this file to copy missing ones again.\n")
    # The container runs as the student's own uid, never root.
    spawner.extra_create_kwargs = {**spawner.extra_create_kwargs, "user": f"{uid}:{uid}"}
    spawner.volumes = {str(folder): "/workspace", str(runs): "/runs"}
    if DATASETS_DIR:
        spawner.read_only_volumes = {DATASETS_DIR: "/datasets"}
    requests, env = gpu_plan(student_index(spawner.user.name), spawner.user.id)
    spawner.extra_host_config = {**spawner.extra_host_config, "device_requests": requests}
    spawner.environment = {**spawner.environment, **env}


c.Spawner.pre_spawn_hook = prepare_student
