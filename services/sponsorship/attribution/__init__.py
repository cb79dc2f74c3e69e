"""Attribution: how much of each conversion a sponsorship channel (an episode, a read, a promo) earns."""
