"""The GloboTicket demo configuration (`manage.py seed_demo`): APIs, clients, exchange
policies and the demo users."""
