"""Root conftest: the shared fixture modules, registered once for the whole suite."""

pytest_plugins = ["tests.ceph_rgw", "tests.relay_fixtures"]
