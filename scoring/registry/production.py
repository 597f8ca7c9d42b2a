"""Which version of each task is in production: the index's stack of promotions.

Promoting pushes a version on its task's stack and rolling back pushes the one before
it; the version on top is in production. Changing the stack is the registry's job
(`ModelRegistry.promote`, `ModelRegistry.rollback`), after checking the signing key.
"""

from __future__ import annotations

from fedscore.scoring.registry.errors import RegistryError
from fedscore.scoring.registry.index import RegistryIndex

#: The alias of a task's production version ("production" or "<task>@production").
PRODUCTION = "production"


def registered_tasks(index: RegistryIndex) -> list[str]:
    """The tasks with a registered version, sorted."""
    return sorted({entry.task for entry in index.entries()})


def production_version(index: RegistryIndex, task: str) -> str | None:
    """The version in production for `task`, or None."""
    stack = index.production_stack(task)
    return stack[-1] if stack else None


def resolve_version(index: RegistryIndex, version: str) -> str:
    """A version name, or "production" (or "<task>@production") → the version.

    Args:
        index: the registry's index.
        version: a version name, or the production alias.

    Raises:
        RegistryError: the alias names no single task, or no version of it is in production.
    """
    task, _, alias = version.rpartition("@")
    if version != PRODUCTION and alias != PRODUCTION:
        return version
    tasks = registered_tasks(index)
    if task:
        tasks = [task] if task in tasks else []
    if len(tasks) != 1:
        raise RegistryError(
            "say which task's production model: <task>@production, with <task> one of "
            f"{tasks or 'the registered tasks (none yet)'}"
        )
    current = production_version(index, tasks[0])
    if current is None:
        raise RegistryError(f"no model of task '{tasks[0]}' is in production; promote one")
    return current


def rollback_target(index: RegistryIndex, task: str | None) -> tuple[str, str]:
    """The task to roll back and the production version it would go back to.

    Args:
        index: the registry's index.
        task: the task; None when the registry holds one task.

    Raises:
        RegistryError: no task given among several, or no earlier production version.
    """
    if task is None:
        tasks = registered_tasks(index)
        if len(tasks) != 1:
            raise RegistryError(f"say which task to roll back (--task, one of {tasks})")
        task = tasks[0]
    stack = index.production_stack(task)
    if len(stack) < 2:
        raise RegistryError(f"task '{task}' has no earlier production model to roll back to")
    return task, stack[-2]
