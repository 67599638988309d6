async def test_create_and_get_campaign(client, make_campaign):
    created = await make_campaign(name="Summer Sale 2025", base_template="Hi {first_name}!")
    response = await client.get(f"/campaigns/{created['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Summer Sale 2025"
    assert body["status"] == "draft"
    assert body["stats"] == {
        "total": 0,
        "pending": 0,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "cancelled": 0,
        "delivered": 0,
        "undelivered": 0,
    }
    assert body["created_at"].endswith("Z")
