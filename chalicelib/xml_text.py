"""Which characters XML 1.0 can carry: the export files' and the initiative file's texts share this rule."""

import re

# XML 1.0 Char production: tab, newline, carriage return and everything from U+0020 except
# surrogates and U+FFFE/U+FFFF.
NOT_XML_CHARACTER = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
