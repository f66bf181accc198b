import os
import tempfile

import torch

# Tests are small; one thread avoids oversubscription on the 2-core CI machine.
torch.set_num_threads(1)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One view cache for the session (entries are keyed by content, so sharing is safe); tests of
# the cache itself use their own folders.
os.environ["SOFTTOPIC_CACHE"] = tempfile.mkdtemp(prefix="softtopic-test-cache-")
