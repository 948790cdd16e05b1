"""The program's explicit dynamic provider (release/program/entry.py): registered first, so
the engine starts the providers' process while the plan's reads run on a worker thread."""

from __future__ import annotations

import threading

import pulumi
import pytest
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from release.program.entry import (
    PROVIDER_NAME,
    forge_provider,
    in_background,
    refusing,
    route_dynamic,
)
from release.rules.config import ConfigError
from tests.support.mocks import EchoMocks, install

PROVIDER_TYPE = "pulumi:providers:pulumi-python"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # Pulumi's wire signature of a secret


class Nothing(ResourceProvider):
    def create(self, props):
        return CreateResult("id", props)


class Thing(Resource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(Nothing(), name, {"value": 1}, opts)


def run(program) -> tuple:
    monitor = install(EchoMocks(), "staging")
    result: dict = {}

    @pulumi.runtime.test
    def test():
        return program(result)

    test()
    return monitor, result


def test_every_dynamic_resource_uses_the_registered_provider_registered_before_it():
    def program(result):
        route_dynamic(forge_provider("ghp_secret_token_value"))
        return Thing("thing").urn.apply(lambda urn: result.update(urn=urn))

    monitor, _ = run(program)
    assert monitor.order[0] == PROVIDER_NAME
    provider = monitor.registered[PROVIDER_NAME]
    assert provider.type == PROVIDER_TYPE
    reference = monitor.registered["thing"].request.provider
    assert reference.startswith(provider.urn + "::"), reference


def test_the_providers_token_is_a_secret_and_no_token_means_no_config():
    def program(result):
        forge_provider("ghp_secret_token_value")
        return None

    monitor, _ = run(program)
    inputs = monitor.registered[PROVIDER_NAME].request.object
    token = inputs.fields["release-train:token"]
    # A secret reaches the engine wrapped in the secret signature, never as a plain string.
    assert token.WhichOneof("kind") == "struct_value", token
    assert SECRET_SIG in str(token)

    def without(result):
        forge_provider(None)
        return None

    monitor, _ = run(without)
    assert not monitor.registered[PROVIDER_NAME].request.object.fields


def test_a_resource_given_its_own_provider_keeps_it():
    def program(result):
        route_dynamic(forge_provider(None))
        own = pulumi.ProviderResource("pulumi-python", "own", {})
        Thing("thing", pulumi.ResourceOptions(provider=own))
        return None

    monitor, _ = run(program)
    reference = monitor.registered["thing"].request.provider
    assert reference.startswith(monitor.registered["own"].urn + "::"), reference


def test_the_work_runs_on_a_worker_thread_and_its_value_becomes_an_output():
    main = threading.get_ident()

    def program(result):
        out = in_background(lambda: threading.get_ident())
        return out.apply(lambda ident: result.update(ident=ident))

    _, result = run(program)
    assert result["ident"] != main


def test_a_user_error_becomes_the_runs_one_line_error():
    def bad():
        raise ConfigError("commit", "abc", "not a commit")

    with pytest.raises(pulumi.RunError) as raised:
        refusing(bad)
    assert "commit" in str(raised.value) and "Traceback" not in str(raised.value)
    with pytest.raises(KeyError):  # anything else is a bug: it keeps its traceback
        refusing(lambda: {}["missing"])


def test_the_program_folder_leaves_the_import_path_before_the_plan_thread_starts(tmp_path):
    """runpy removes the program's folder from sys.path when the program's top level returns,
    while the plan's thread may be importing (the import system walks sys.path live, so an
    entry can be skipped): the folder leaves first, so runpy's removal changes nothing."""
    from release.program.entry import leave_program_folder

    main_file = str(tmp_path / "__main__.py")
    path = [str(tmp_path), "/usr/lib/python3.11", "/venv/site-packages"]
    assert leave_program_folder(path, main_file) is True
    assert path == ["/usr/lib/python3.11", "/venv/site-packages"]
    # Not the runner's entry (pytest, a test program): nothing is touched.
    for other, main in (
        ([str(tmp_path / "x"), "/lib"], main_file),
        ([str(tmp_path), "/lib"], str(tmp_path / "run.py")),
        ([str(tmp_path), "/lib"], None),
        ([], main_file),
    ):
        before = list(other)
        assert leave_program_folder(other, main) is False
        assert other == before
