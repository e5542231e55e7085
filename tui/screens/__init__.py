"""The app's screens, one per module: home, chat, train."""
