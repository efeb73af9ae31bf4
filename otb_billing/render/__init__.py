"""Writers for people and other programs: QuickBooks CSV and ZIP, JSON, the terminal table."""
