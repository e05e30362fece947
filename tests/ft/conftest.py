import pytest

from tests.ft.workload import Zygote


@pytest.fixture(scope="session")
def zygote():
    z = Zygote()
    yield z
    z.close()
