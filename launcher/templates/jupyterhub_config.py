# JupyterHub for a yolo-lab class: every student gets their own yolo-lab
# container (JupyterLab, yolo-lab, YOLOv5, PyTorch) on this GPU server.
# Written by `yolo-lab classroom init`; README.md, "A class on one GPU server
# (JupyterHub)", explains it line by line.
#
# Loads yolo_lab_class.py (written beside it): the students' folders made
# safely, and the class service the teacher's view asks; and yolo_lab_relay.py:
# the only ways in and out of a student's container, which has no network.
#
# Needs on this machine: `pip install "jupyterhub>=6.1,<6.2" dockerspawner`,
# `npm install -g configurable-http-proxy`, the Docker engine and the image
# below (`yolo-lab build`). Start it from this folder, as a user who may use
# Docker (root, to give each student a uid of their own):
#     jupyterhub -f jupyterhub_config.py
# The Hub keeps its database, cookie secret and proxy token next to this file.

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

from dockerspawner import DockerSpawner
from jupyterhub.utils import random_port

c = get_config()  # noqa: F821 (JupyterHub defines it while loading this file)

# ---- settings: written by `yolo-lab classroom init`; change them here ----
IMAGE = "yolo-lab:latest"  # the yolo-lab image each student's server runs
HUB_IP = "127.0.0.1"  # the address students' browsers reach (through your TLS proxy)
HUB_PORT = 8000
# The address students use, with a subdomain per user (alice.class.example.edu): see
# "Per-user subdomains" below. None: one origin for the Hub and every server, only
# for users who trust each other (JupyterHub's docs: cookie tossing).
SUBDOMAIN_HOST = "https://class.example.edu"
STUDENTS = []  # user names allowed in, in order ("each" gives the n-th student the n-th GPU)
ADMINS = []  # teachers: every server in the Hub's admin page and the panel's Class
STUDENTS_DIR = "/srv/yolo-lab/students"  # one folder per student: their notebooks, at /workspace
RUNS_DIR = "/srv/yolo-lab/runs"  # one folder per student: their trainings, at /runs
DATASETS_DIR = None  # shared datasets, read-only at /datasets (None: none)
NOTEBOOKS_DIR = None  # course notebooks, copied into each new student's folder once
GPU_POLICY = "none"  # none | each | round-robin | shared
GPU_IDS = []  # GPU indexes or GPU-/MIG- UUIDs (nvidia-smi -L); [] with "shared": all
MEM_FRACTION = None  # "shared" (and optionally round-robin): each student's share of a GPU
SHM_SIZE = "8g"  # /dev/shm per container, for DataLoader workers
MEM_LIMIT = "16G"  # memory per student's container (RAM, /dev/shm included)
CPU_LIMIT = 4.0  # CPU cores per student's container
PIDS_LIMIT = 2048  # processes and threads per student's container
FIRST_UID = 20000  # student n runs as uid FIRST_UID + n (their Hub user id)
AUTH = "placeholder"  # placeholder | dummy (tests and a first try only)
PASSWORD_ENV = "YOLO_LAB_HUB_PASSWORD"  # with AUTH = "dummy": the shared password's variable
# ---- end of settings ----

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from yolo_lab_class import (  # noqa: E402  (beside this file)
    SERVICE_NAME,
    copy_course_as,
    student_folder,
    trusted_parent,
)
from yolo_lab_relay import HostRelays  # noqa: E402

# -- The Hub and its proxy ---------------------------------------------------
# Listen on this machine only: put a TLS proxy (Caddy, nginx) in front on
# port 443 and let it forward to HUB_IP:HUB_PORT. Passwords and tokens never
# cross the network unencrypted.
c.JupyterHub.ip = HUB_IP
c.JupyterHub.port = HUB_PORT
# -- Per-user subdomains ------------------------------------------------------
# Each student's server gets an origin of its own (https://alice.class.example.edu),
# so a student's pages cannot read or set the cookies of another student's server
# or of the Hub (JupyterHub's docs, "Subdomains"). Needs: a DNS wildcard record
# *.class.example.edu (and class.example.edu) pointing at this machine, and a
# certificate for both names in your TLS proxy (Caddy or nginx with a wildcard
# certificate, e.g. Let's Encrypt's DNS-01 challenge); the proxy forwards both to
# HUB_IP:HUB_PORT with the Host header kept.
if SUBDOMAIN_HOST:
    c.JupyterHub.subdomain_host = SUBDOMAIN_HOST
# The Hub's own API, where each server reports in: on this machine only; each
# container reaches it through its relay (below).
c.JupyterHub.hub_ip = "127.0.0.1"
# State next to this file, not in whatever folder the Hub was started from.
c.JupyterHub.db_url = f"sqlite:///{HERE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(HERE / "jupyterhub_cookie_secret")
# configurable-http-proxy (npm) routes /user/<name>/ to that student's server.
c.ConfigurableHTTPProxy.command = ["configurable-http-proxy"]
# Stopping the Hub stops every student's server (their folders stay).
c.JupyterHub.cleanup_servers = True

# -- The class service: what the teacher's view reads ------------------------
# Each student's server pushes its own trainings to it (with its own token);
# a teacher's server asks it for the class. The service reads the Hub's
# list of users with its own token, which never leaves this machine: no
# token that opens other servers ever goes to a student's server.
# Its own port on this machine: servers reach it there through their relay (it
# checks every token with the Hub), whatever host names the proxy routes.
SERVICE_URL = f"http://127.0.0.1:{random_port()}"
c.JupyterHub.services = [
    {
        "name": SERVICE_NAME,
        "url": SERVICE_URL,
        "command": [sys.executable, str(HERE / "yolo_lab_class.py"), "service"],
    }
]
c.JupyterHub.load_roles = [
    # Every user (and so their server's token) may reach the service: to
    # report their own activity; the service shows the class to admins only.
    {"name": "user", "scopes": ["self", f"access:services!service={SERVICE_NAME}"]},
    {
        "name": "yolo-lab-class-service",
        "scopes": ["list:users", "read:users", "read:servers"],
        "services": [SERVICE_NAME],
    },
]

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


# Where the relays' sockets live: under this folder, which only root may change.
SOCKETS_DIR = HERE / "sockets"
# Where a container sees them, and the relay that serves them there.
RELAY_IN_CONTAINER = "/opt/yolo-lab-class/yolo_lab_relay.py"
HUB_SOCKETS = "/run/yolo-lab/hub"
SERVER_SOCKETS = "/run/yolo-lab/server"


def student_uid(spawner):
    """The uid a student's container runs as: their own (the Hub's when not root)."""
    return FIRST_UID + spawner.user.id if os.geteuid() == 0 else os.getuid()


def relay_folders(spawner):
    """The student's two socket folders on the host: the Hub's (root's, 0755,
    read-only inside) and the server's (the student's own, 0700)."""
    hub = trusted_parent(SOCKETS_DIR / "hub" / spawner.escaped_name)
    server = student_folder(
        trusted_parent(SOCKETS_DIR / "server"), spawner.escaped_name, student_uid(spawner)
    )
    return hub, server


class YoloLabSpawner(DockerSpawner):
    """DockerSpawner with each container cut off the network.

    The container has Docker's ``none`` network: a loopback of its own and
    nothing else. Its server listens on 127.0.0.1:PORT in there; the Hub
    listens on the host's 127.0.0.1:PORT and relays to it through a Unix
    socket, and the server reaches the Hub's API and the class service
    through two more (yolo_lab_relay.py). The relays run in the Hub from the
    server's start to its stop (and again after the Hub restarts).
    """

    _relays = None

    def _forwards(self):
        hub_port = urlparse(self.hub.api_url).port
        service_port = urlparse(SERVICE_URL).port
        return [("hub.sock", hub_port), ("service.sock", service_port)]

    async def _start_relays(self):
        hub, server = relay_folders(self)
        relays = HostRelays(
            self.port,
            str(server / "server.sock"),
            student_uid(self),
            [(str(hub / name), port) for name, port in self._forwards()],
        )
        await relays.start()
        self._relays = relays

    def _stop_relays(self):
        if self._relays is not None:
            self._relays.close()
            self._relays = None

    async def start(self):
        self.port = random_port()
        await self._start_relays()
        try:
            return await super().start()
        except BaseException:
            self._stop_relays()
            raise

    async def get_ip_and_port(self):
        return self.ip, self.port

    async def get_command(self):
        # The relay starts first, then runs the server (or any other cmd).
        inside = [
            "python",
            RELAY_IN_CONTAINER,
            "--serve",
            f"{SERVER_SOCKETS}/server.sock={self.ip}:{self.port}",
        ]
        for name, port in self._forwards():
            inside += ["--forward", f"127.0.0.1:{port}={HUB_SOCKETS}/{name}"]
        return [*inside, "--", *await super().get_command()]

    async def poll(self):
        status = await super().poll()
        if status is None and self._relays is None and self.port:
            # Running, and this Hub has just started: its relays go again.
            await self._start_relays()
        return status

    async def stop(self, now=False):
        try:
            await super().stop(now=now)
        finally:
            self._stop_relays()

    def get_state(self):
        return {**super().get_state(), "relay_port": self.port}

    def load_state(self, state):
        super().load_state(state)
        self.port = state.get("relay_port", self.port)


c.JupyterHub.spawner_class = YoloLabSpawner
c.DockerSpawner.image = IMAGE
# No network: the relays are the only way in and out (see YoloLabSpawner).
c.DockerSpawner.network_name = "none"
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.ip = "127.0.0.1"  # each server listens on its container's loopback
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
    "pids_limit": PIDS_LIMIT,
}
c.DockerSpawner.extra_create_kwargs = {"labels": {"yolo-lab.classroom": "1"}}
c.Spawner.environment = {
    "PYTHONUNBUFFERED": "1",
    "HOME": "/tmp",
    # The class service as the servers reach it (through their relay): each
    # server reports its own trainings there, a teacher's asks it for the class.
    "YOLO_LAB_CLASS_URL": f"{SERVICE_URL}/services/{SERVICE_NAME}",
    # Where each server looks for the trainings it reports (the runs mount).
    "YOLO_LAB_RUN_ROOTS": "/runs",
}


# Each server's own API token (JUPYTERHUB_API_TOKEN), the same for a teacher
# and a student: report its activity, be reached by its user, reach the class
# service. No server holds a token that opens another user's server.
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    f"access:services!service={SERVICE_NAME}",
]
# What one student's code may use of the machine.
c.DockerSpawner.mem_limit = MEM_LIMIT
c.DockerSpawner.cpu_limit = CPU_LIMIT


def prepare_student(spawner):
    """Before each start: the student's folders, uid, mounts and GPUs.

    Two folders of the student's own (mode 0700), each directly under a
    folder only root can change, so the student can never swap what is
    mounted for a link to the host: STUDENTS_DIR/<name> at /workspace and
    RUNS_DIR/<name> at /runs; and the relays' socket folders (relay_folders).
    Nothing here follows a link the student made
    (yolo_lab_class.py); the course notebooks are copied once, by a process
    running as the student, and never over a file the student has.
    """
    uid = student_uid(spawner)
    folder = student_folder(trusted_parent(STUDENTS_DIR), spawner.escaped_name, uid)
    runs = student_folder(trusted_parent(RUNS_DIR), spawner.escaped_name, uid)
    if NOTEBOOKS_DIR:
        copy_course_as(uid, NOTEBOOKS_DIR, folder)
    # The container runs as the student's own uid, never root.
    spawner.extra_create_kwargs = {**spawner.extra_create_kwargs, "user": f"{uid}:{uid}"}
    hub_sockets, server_sockets = relay_folders(spawner)
    spawner.volumes = {
        str(folder): "/workspace",
        str(runs): "/runs",
        str(server_sockets): SERVER_SOCKETS,
    }
    read_only = {str(hub_sockets): HUB_SOCKETS, str(HERE / "yolo_lab_relay.py"): RELAY_IN_CONTAINER}
    if DATASETS_DIR:
        read_only[DATASETS_DIR] = "/datasets"
    spawner.read_only_volumes = read_only
    requests, env = gpu_plan(student_index(spawner.user.name), spawner.user.id)
    spawner.extra_host_config = {**spawner.extra_host_config, "device_requests": requests}
    spawner.environment = {**spawner.environment, **env}


c.Spawner.pre_spawn_hook = prepare_student
