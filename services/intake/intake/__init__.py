"""intake: takes leads in from upstream systems and owns each lead's lifecycle."""
