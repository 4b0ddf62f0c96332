"""Training corpus: the music21 corpus (and MMA grooves) as captioned MIDI clips, in the CONTRACTS.md format.

May import bridge's pure parts (music, analysis); never imported by bridge itself.
"""

from models.corpus.build import build_corpus
from models.corpus.config import BuildConfig

__all__ = ["BuildConfig", "build_corpus"]
