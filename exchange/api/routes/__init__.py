"""The API's routers, one module per audience: public, departments, the platform, oversight."""
