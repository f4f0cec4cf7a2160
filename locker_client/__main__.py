"""``python -m locker_client`` runs the ``locker`` command."""
from locker_client.cli import main

if __name__ == "__main__":
    main()
