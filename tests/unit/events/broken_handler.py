"""A handler module whose own import fails (a missing dependency), for the workflow tests."""
import no_such_dependency_xyz  # noqa: F401


def on_event(_db, _event):
    pass
