"""twisted/plugins/lavad_plugin.py: twistd finds the lavad plugin and it builds the service."""

from __future__ import annotations

import os
import sys

import pytest_twisted
from twisted import plugins
from twisted.application.service import IServiceMaker, MultiService
from twisted.internet import reactor
from twisted.internet.utils import getProcessOutputAndValue
from twisted.plugin import getPlugins

from lavad.service import LavadService


def lavad_maker():
    makers = [m for m in getPlugins(IServiceMaker, plugins) if m.tapname == "lavad"]
    assert len(makers) == 1, [m.tapname for m in getPlugins(IServiceMaker, plugins)]
    return makers[0]


def test_plugin_is_found():
    """getPlugins(IServiceMaker) finds exactly one plugin named lavad, with a description."""
    maker = lavad_maker()
    assert maker.description
    assert maker.options.__module__ == "lavad.tap"


def test_plugin_builds_a_multiservice(tmp_path):
    """The plugin's options parse lavad's flags and makeService returns a MultiService."""
    maker = lavad_maker()
    options = maker.options()
    options.parseOptions(["--data-dir", str(tmp_path / "data"), "--http", "tcp:0"])
    service = maker.makeService(options)
    assert isinstance(service, MultiService)
    assert isinstance(service, LavadService)
    assert service.settings.data_dir == str(tmp_path / "data")
    assert not service.running


@pytest_twisted.ensureDeferred
async def test_installed_copy_is_found(tmp_path):
    """From outside the source tree, the installed lavad provides the twistd plugin."""
    script = ("from twisted.application.service import IServiceMaker\n"
              "from twisted.plugin import getPlugins\n"
              "from twisted import plugins\n"
              "print(sorted(m.tapname for m in getPlugins(IServiceMaker, plugins)))\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out, err, code = await getProcessOutputAndValue(
        sys.executable, ["-c", script], env=env, path=str(tmp_path),
        reactor=reactor).addTimeout(60, reactor)
    assert code == 0, err
    assert "'lavad'" in out.decode()
