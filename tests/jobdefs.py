"""The job definitions tests submit: LAVA's smallest valid qemu job (deploy to tmpfs,
boot with qemu), with the few fields tests vary."""

from __future__ import annotations

_HEAD = """\
device_type: %s
job_name: %s
timeouts:
  job:
    minutes: 10
priority: medium
visibility: %s
"""

_ACTIONS = """\
actions:
- deploy:
    to: tmpfs
    images:
      kernel:
        url: http://example.com/vmlinuz
- boot:
    method: qemu
    media: tmpfs
    prompts: ['# ']
"""


def qemu_job(device_type: str = "qemu", job_name: str = "smoke", visibility: str = "public",
             build: int | None = None, comment: str | None = None) -> str:
    """The definition's text; ``build`` adds ``metadata: {build: N}``, ``comment`` a first
    line ``# comment`` (kept in the original definition, dropped from the parsed one)."""
    text = _HEAD % (device_type, job_name, visibility)
    if build is not None:
        text += "metadata:\n  build: %d\n" % build
    if comment is not None:
        text = "# %s\n%s" % (comment, text)
    return text + _ACTIONS
