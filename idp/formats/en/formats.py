"""English dates as the people's pages always wrote them: day first, 24-hour clock
("1 Dec 2026", "1 Dec 2026, 14:05"), readable on both sides of the Atlantic, where Django's
own English formats are American ("Dec. 1, 2026, 2:05 p.m.")."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
