"""Reads the stack's record through the engine, applies this run's delta, and records it
after one other step (`work`), which fails when asked to: a failed step records nothing."""

import os
import time

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from release.providers.train_record import TrainRecord, read_current
from release.rules.intent import apply_ops, describe, ops_from_env


class WorkProvider(ResourceProvider):
    def create(self, props):
        return CreateResult("work", self._run(props))

    def diff(self, _id, olds, news):
        return DiffResult(changes=olds.get("run") != news.get("run"))

    def update(self, _id, _olds, news):
        return UpdateResult(self._run(news))

    @staticmethod
    def _run(props):
        if props.get("fail"):
            raise RuntimeError("work refused on purpose")
        return {"run": props.get("run"), "fail": False}


class Work(Resource, module="test", name="Work"):
    def __init__(self, name, run, fail):
        super().__init__(WorkProvider(), name, {"run": run, "fail": fail})


config = pulumi.Config()
hold = float(os.environ.get("TEAM_HOLD_SECONDS") or 0)
current = read_current()
pulumi.log.info("record read: " + "; ".join(describe(current) or ["empty"]))
record = apply_ops(current, ops_from_env(os.environ), pulumi.get_stack())
time.sleep(hold)  # holds the stack's lock during `up`, for the concurrency tests
work = Work("work", os.environ.get("TEAM_RUN", "0"), config.get_bool("fail") or False)
kept = TrainRecord(record, depends_on=[work])
pulumi.export("intent", kept.record)
