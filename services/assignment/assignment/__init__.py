"""assignment: decides who owns each lead."""
